package topology

import (
	"errors"
	"net"
	"strings"

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

// nextStep says, for an error of a worker's first call to SQS, what is wrong and what to do
// about it, or "" when it is none of the usual three: the queue does not exist (the deployment was
// not created, or ROLLWAVE_PREFIX or the region names another), the endpoint cannot be reached,
// or there are no credentials. The SDK has no error type for the last; its error says
// "get credentials" when the credential chain found nothing.
func nextStep(err error) string {
	var netErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case isQueueMissing(err):
		return "the queue does not exist: create the deployment (terraform apply; tools/bootstrap for a local stack), or check ROLLWAVE_PREFIX and AWS_REGION"
	case errors.As(err, &netErr) || errors.As(err, &dnsErr):
		return "SQS cannot be reached: check AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_SQS (unset for AWS itself), AWS_REGION and the network"
	case strings.Contains(err.Error(), "get credentials"):
		return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the task a role"
	}
	return ""
}
