package cluster

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// The errors below are what callers test for with errors.Is. Every error returned by this
// package that came from ECS is classified exactly once, here, into at most these kinds; the
// original error stays reachable with errors.As (for example as smithy.APIError).
var (
	// ErrClusterNotFound: the cluster does not exist (or is INACTIVE). Permanent.
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrInstanceNotFound: no container instance with that ID or ARN is registered in the
	// cluster (never registered, or deregistered). Permanent for that instance.
	ErrInstanceNotFound = errors.New("container instance not found")
	// ErrTransient: throttling, a 5xx, a timeout or a broken connection, after the SDK's own
	// retries. The same call may succeed later: back off and retry.
	ErrTransient = errors.New("transient ecs error")
	// ErrThrottled is the throttling subset of ErrTransient (an error that Is ErrThrottled
	// also Is ErrTransient).
	ErrThrottled = errors.New("ecs throttled the request")
	// ErrAttributeLimit: the instance already carries the maximum of 10 custom attributes.
	// Permanent until someone deletes attributes.
	ErrAttributeLimit = errors.New("custom attribute limit reached")
	// ErrInvalid: ECS refused the request as sent (invalid parameter, access denied, client
	// error). Retrying the same call cannot help.
	ErrInvalid = errors.New("invalid ecs request")
)

// classified keeps the original error and adds the kinds it belongs to.
type classified struct {
	err   error
	kinds []error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return append([]error{e.err}, e.kinds...) }

// classify maps an error returned by the ECS SDK to the kinds above. Context cancellation and
// deadline errors are returned unchanged: they belong to the caller, not to ECS.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if kinds := kindsOf(err); len(kinds) > 0 {
		return &classified{err: err, kinds: kinds}
	}
	return err
}

func kindsOf(err error) []error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ClusterNotFoundException":
			return []error{ErrClusterNotFound}
		case "TargetNotFoundException":
			return []error{ErrInstanceNotFound}
		case "AttributeLimitExceededException":
			return []error{ErrAttributeLimit}
		case "ServerException":
			return []error{ErrTransient}
		case "InvalidParameterException", "ClientException", "AccessDeniedException",
			"UnsupportedFeatureException", "ValidationException":
			return []error{ErrInvalid}
		}
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return []error{ErrThrottled, ErrTransient}
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return []error{ErrTransient}
	}
	if apiErr != nil && apiErr.ErrorFault() == smithy.FaultServer {
		return []error{ErrTransient}
	}
	if apiErr != nil && apiErr.ErrorFault() == smithy.FaultClient {
		return []error{ErrInvalid}
	}
	return nil
}

// IsTransient reports whether err is worth retrying later.
func IsTransient(err error) bool { return errors.Is(err, ErrTransient) }
