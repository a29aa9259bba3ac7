package topology

import (
	"errors"

	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// isQueueMissing reports whether err says that the queue does not exist. The JSON protocol
// answers QueueDoesNotExist; the query protocol (and older emulators) the legacy code.
func isQueueMissing(err error) bool {
	var missing *sqstypes.QueueDoesNotExist
	return errors.As(err, &missing) ||
		hasCode(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
}

// isInvalidAttributeName reports whether err says that an attribute name is unknown, as moto
// answers for RedriveAllowPolicy.
func isInvalidAttributeName(err error) bool {
	var invalid *sqstypes.InvalidAttributeName
	return errors.As(err, &invalid) || hasCode(err, "InvalidAttributeName")
}

// isRuleMissing reports whether err says that the EventBridge rule does not exist.
func isRuleMissing(err error) bool {
	var missing *ebtypes.ResourceNotFoundException
	return errors.As(err, &missing) || hasCode(err, "ResourceNotFoundException")
}

func hasCode(err error, codes ...string) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	for _, c := range codes {
		if apiErr.ErrorCode() == c {
			return true
		}
	}
	return false
}
