package ssmcommand

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// The errors below are what callers test for with errors.Is. Every error from SSM is
// classified exactly once, here; the original stays reachable with errors.As.
var (
	// ErrInvalidInstance: SSM does not manage the instance or it is not in a state to receive
	// commands (InvalidInstanceId). Permanent for that instance; other instances are unaffected.
	ErrInvalidInstance = errors.New("instance not managed by ssm")
	// ErrTransient: throttling, a 5xx, a timeout or a broken connection, after the SDK's own
	// retries. Back off and retry.
	ErrTransient = errors.New("transient ssm error")
	// ErrThrottled is the throttling subset of ErrTransient.
	ErrThrottled = errors.New("ssm throttled the request")
	// ErrInvalid: SSM refused the request as sent (unknown document, bad parameters, comment
	// over 100 characters, access denied). Retrying the same call cannot help.
	ErrInvalid = errors.New("invalid ssm request")
	// ErrWaitTimeout: Run's wait ended before the invocation reached a terminal status. The
	// command may still complete on the host.
	ErrWaitTimeout = errors.New("command did not finish in time")
)

// errInvocationNotYet is GetCommandInvocation's InvocationDoesNotExist, normal right after
// SendCommand: the invocation is not registered yet.
var errInvocationNotYet = errors.New("invocation does not exist yet")

type classified struct {
	err   error
	kinds []error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return append([]error{e.err}, e.kinds...) }

// classify maps an error returned by the SSM SDK to the kinds above. Context errors are the
// caller's and are returned unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
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
		case "InvalidInstanceId":
			return []error{ErrInvalidInstance}
		case "InvocationDoesNotExist":
			return []error{errInvocationNotYet}
		case "InternalServerError":
			return []error{ErrTransient}
		case "InvalidDocument", "InvalidDocumentVersion", "InvalidParameters", "InvalidCommandId",
			"InvalidOutputFolder", "InvalidRole", "InvalidNotificationConfig", "UnsupportedPlatformType",
			"DuplicateInstanceId", "MaxDocumentSizeExceeded", "InvalidFilterKey", "InvalidInstanceInformationFilterValue",
			"InvalidFilter", "InvalidNextToken", "AccessDeniedException", "ValidationException":
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
