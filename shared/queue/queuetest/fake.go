// Package queuetest provides a stateful in-memory SQS for tests of code built on package queue,
// and the contract suite that both this fake and real SQS (moto) pass.
package queuetest

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/rollwave/rollwave/shared/clock"
	"github.com/rollwave/rollwave/shared/queue"
)

var _ ContractClient = (*SQS)(nil)
var _ queue.Client = (*SQS)(nil)

const (
	account = "123456789012"
	region  = "us-east-1"
)

// SQS is an in-memory SQS of standard queues: visibility, receive counts, delays, retention,
// long polling that honours ctx, the redrive to a dead-letter queue after maxReceiveCount (at the
// next receive, as SQS does), queue attributes and tags. It answers each call with the error of
// the SDK's type and code that SQS answers with (a missing queue is a *types.QueueDoesNotExist
// whose code is AWS.SimpleQueueService.NonExistentQueue), so that code that classifies errors
// takes the same path on the fake as on SQS.
//
// Every time it reads or waits on is its clock's: clock.Real for NewSQS (which inside a synctest
// bubble is the bubble's clock), any clock.Clock for NewSQSOn. On a clock.Virtual a long poll
// waits on the clock's timer and on channels only, so it ends when the clock is moved, a message
// arrives, or its context is done.
//
// The zero value is not usable; call NewSQS or NewSQSOn.
type SQS struct {
	clock    clock.Clock
	mu       sync.Mutex
	queues   map[string]*fakeQueue // by URL
	seq      int
	changed  chan struct{} // closed and replaced on every change, to wake long polls
	failNext map[string][]error
	// failEntries holds, per batch operation, the failures of its next entries, one per entry.
	failEntries map[string][]types.BatchResultErrorEntry
	calls       map[string]int
	// loseReceives is how many receives that take messages lose their answer (LoseNextReceive).
	loseReceives int
}

type fakeQueue struct {
	name, url, arn    string
	attrs             map[string]string // the settable attributes, defaults included
	tags              map[string]string
	msgs              []*fakeMessage
	dlq               string // ARN
	maxReceive        int
	created, modified time.Time
}

type fakeMessage struct {
	id, body     string
	attrs        map[string]types.MessageAttributeValue
	sentAt       time.Time
	visibleAt    time.Time
	receivedAt   time.Time // of the latest receive; zero until the first
	receiveCount int
	handle       string
}

// NewSQS returns an empty fake on clock.Real.
func NewSQS() *SQS { return NewSQSOn(clock.Real) }

// NewSQSOn returns an empty fake whose time is c's: visibility timeouts, delays, retention and
// long polls; nil means clock.Real.
func NewSQSOn(c clock.Clock) *SQS {
	return &SQS{
		clock:       clock.OrReal(c),
		queues:      map[string]*fakeQueue{},
		changed:     make(chan struct{}),
		failNext:    map[string][]error{},
		failEntries: map[string][]types.BatchResultErrorEntry{},
		calls:       map[string]int{},
	}
}

// Clock is the clock the fake reads and waits on.
func (s *SQS) Clock() clock.Clock { return s.clock }

// FailNextEntries makes the next n entries of calls of the batch operation op
// ("SendMessageBatch", "DeleteMessageBatch") fail with code, as the sender's fault or SQS's, while
// the call itself succeeds: a partial failure. A failed entry has no effect.
func (s *SQS) FailNextEntries(op string, n int, code string, senderFault bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failEntries[op] = append(s.failEntries[op], types.BatchResultErrorEntry{
			Code: ptr(code), Message: ptr("injected failure"), SenderFault: senderFault,
		})
	}
}

// failEntry returns the failure queued for the next entry of op, if any. Callers hold s.mu.
func (s *SQS) failEntry(op, id string) (types.BatchResultErrorEntry, bool) {
	errs := s.failEntries[op]
	if len(errs) == 0 {
		return types.BatchResultErrorEntry{}, false
	}
	s.failEntries[op] = errs[1:]
	f := errs[0]
	f.Id = ptr(id)
	return f, true
}

// FailNext makes the next call of op (an SQS operation name such as "DeleteMessage") return err.
// Several calls queue up, one failure per call.
func (s *SQS) FailNext(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[op] = append(s.failNext[op], err)
}

// LoseNextReceive makes the next ReceiveMessage that takes messages lose its answer: the messages
// are received (their receive count raised, hidden for the visibility timeout) and the call
// returns an error, as when SQS's answer is lost on the way back. SQS counts such a receive all the
// same.
func (s *SQS) LoseNextReceive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseReceives++
}

// Calls returns how many times op was called, failed calls included.
func (s *SQS) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// MessageState is a message as the fake holds it.
type MessageState struct {
	ID           string
	Body         string
	Attributes   map[string]string
	ReceiveCount int
	VisibleAt    time.Time
}

// Messages returns the messages of the queue at url, in send order.
func (s *SQS) Messages(url string) []MessageState {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[url]
	if q == nil {
		return nil
	}
	s.expire(q, s.clock.Now())
	var out []MessageState
	for _, m := range q.msgs {
		st := MessageState{ID: m.id, Body: m.body, ReceiveCount: m.receiveCount, VisibleAt: m.visibleAt}
		for k, v := range m.attrs {
			if st.Attributes == nil {
				st.Attributes = map[string]string{}
			}
			st.Attributes[k] = deref(v.StringValue)
		}
		out = append(out, st)
	}
	return out
}

// queueName is what SQS allows as the name of a standard queue.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueDefaults are the settable attributes of a new queue that CreateQueue does not set.
var queueDefaults = map[string]string{
	"DelaySeconds":                  "0",
	"MaximumMessageSize":            "1048576",
	"MessageRetentionPeriod":        "345600",
	"ReceiveMessageWaitTimeSeconds": "0",
	"VisibilityTimeout":             "30",
	"SqsManagedSseEnabled":          "true",
}

// CreateQueue creates a standard queue with its attributes and tags. For a queue of that name
// that exists it returns its URL when every attribute given has the queue's value, and
// QueueNameExists (code QueueAlreadyExists) otherwise, as SQS does; the tags of an existing
// queue are left as they are.
func (s *SQS) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("CreateQueue"); err != nil {
		return nil, err
	}
	if in.QueueName == nil {
		return nil, paramRequired("CreateQueueInput", "QueueName")
	}
	name := *in.QueueName
	if !queueName.MatchString(name) {
		return nil, apiError("InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	url := "https://sqs." + region + ".amazonaws.com/" + account + "/" + name
	if q, ok := s.queues[url]; ok {
		for k, v := range in.Attributes {
			if q.attrs[k] != v {
				return nil, &types.QueueNameExists{
					Message:           ptr("The specified queue already exists."),
					ErrorCodeOverride: ptr("QueueAlreadyExists"),
				}
			}
		}
		return &sqs.CreateQueueOutput{QueueUrl: &url}, nil
	}
	now := s.clock.Now()
	q := &fakeQueue{
		name: name, url: url, arn: "arn:aws:sqs:" + region + ":" + account + ":" + name,
		attrs: map[string]string{}, tags: map[string]string{}, created: now, modified: now,
	}
	for k, v := range queueDefaults {
		q.attrs[k] = v
	}
	if err := s.setAttributes(q, in.Attributes); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if err := tag(q, in.Tags); err != nil {
			return nil, err
		}
	}
	s.queues[url] = q
	return &sqs.CreateQueueOutput{QueueUrl: &url}, nil
}

// GetQueueUrl returns the URL of the queue named QueueName; QueueDoesNotExist when there is
// none, or when QueueOwnerAWSAccountId names another account than the fake's.
func (s *SQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("GetQueueUrl"); err != nil {
		return nil, err
	}
	if in.QueueName == nil {
		return nil, paramRequired("GetQueueUrlInput", "QueueName")
	}
	if owner := deref(in.QueueOwnerAWSAccountId); owner != "" && owner != account {
		return nil, queueMissing()
	}
	for _, q := range s.queues {
		if q.name == *in.QueueName {
			return &sqs.GetQueueUrlOutput{QueueUrl: ptr(q.url)}, nil
		}
	}
	return nil, queueMissing()
}

// GetQueueAttributes answers the attributes named (All for every one): QueueArn, the approximate
// counts (visible; in flight; delayed), the creation and modification times, and the settable
// attributes with their defaults. A name SQS does not know is InvalidAttributeName.
func (s *SQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("GetQueueAttributes"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	known := map[types.QueueAttributeName]bool{}
	for _, n := range types.QueueAttributeName("").Values() {
		known[n] = true
	}
	for _, n := range in.AttributeNames {
		if !known[n] {
			return nil, &types.InvalidAttributeName{Message: ptr("Unknown Attribute " + string(n) + ".")}
		}
	}
	now := s.clock.Now()
	s.expire(q, now)
	visible, inFlight, delayed := 0, 0, 0
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receiveCount == 0:
			delayed++
		default:
			inFlight++
		}
	}
	all := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
	}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, name := range in.AttributeNames {
		if name == types.QueueAttributeNameAll {
			out = all
			break
		}
		if v, ok := all[string(name)]; ok {
			out[string(name)] = v
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
}

// SetQueueAttributes sets the attributes given, all or none: an unknown or read-only name is
// InvalidAttributeName, a value out of SQS's range InvalidAttributeValue. An empty RedrivePolicy
// removes the queue's redrive. Messages in flight keep their visibility; the new values apply from
// the next send or receive.
func (s *SQS) SetQueueAttributes(_ context.Context, in *sqs.SetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("SetQueueAttributes"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, paramRequired("SetQueueAttributesInput", "Attributes")
	}
	if err := s.setAttributes(q, in.Attributes); err != nil {
		return nil, err
	}
	q.modified = s.clock.Now()
	return &sqs.SetQueueAttributesOutput{}, nil
}

// numericAttributes are the settable attributes that are a number of seconds or bytes, with
// the range SQS allows.
var numericAttributes = map[string][2]int{
	"DelaySeconds":                  {0, 900},
	"MaximumMessageSize":            {1024, 1 << 20},
	"MessageRetentionPeriod":        {60, 1209600},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"VisibilityTimeout":             {0, 43200},
	"KmsDataKeyReusePeriodSeconds":  {60, 86400},
}

// setAttributes checks attrs and then sets them on q, all or none. Callers hold s.mu.
func (s *SQS) setAttributes(q *fakeQueue, attrs map[string]string) error {
	dlq, maxReceive := q.dlq, q.maxReceive
	for k, v := range attrs {
		if r, ok := numericAttributes[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r[0] || n > r[1] {
				return invalidAttributeValue(k, v, fmt.Sprintf("must be between %d and %d", r[0], r[1]))
			}
			continue
		}
		switch k {
		case "Policy", "KmsMasterKeyId":
			if k == "Policy" && v != "" && !json.Valid([]byte(v)) {
				return invalidAttributeValue(k, v, "not a JSON document")
			}
		case "SqsManagedSseEnabled":
			if v != "true" && v != "false" {
				return invalidAttributeValue(k, v, "must be true or false")
			}
		case "RedrivePolicy":
			if v == "" {
				dlq, maxReceive = "", 0
				continue
			}
			var err error
			if dlq, maxReceive, err = s.redrivePolicy(v); err != nil {
				return err
			}
		case "RedriveAllowPolicy":
			if err := redriveAllowPolicy(v); err != nil {
				return err
			}
		case "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit":
			return &types.UnsupportedOperation{Message: ptr("queuetest: " + k + ": the fake holds standard queues only")}
		default:
			return &types.InvalidAttributeName{Message: ptr("Unknown Attribute " + k + ".")}
		}
	}
	for k, v := range attrs {
		if k == "RedrivePolicy" && v == "" {
			delete(q.attrs, k)
			continue
		}
		q.attrs[k] = v
	}
	q.dlq, q.maxReceive = dlq, maxReceive
	return nil
}

// redrivePolicy reads a RedrivePolicy: its dead-letter queue, which must exist, and its
// maxReceiveCount. Callers hold s.mu.
func (s *SQS) redrivePolicy(v string) (dlq string, maxReceive int, err error) {
	var p struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return "", 0, invalidAttributeValue("RedrivePolicy", v, err.Error())
	}
	n, err := strconv.Atoi(fmt.Sprint(p.MaxReceiveCount))
	if err != nil || n < 1 || n > 1000 {
		return "", 0, invalidAttributeValue("RedrivePolicy", v, "maxReceiveCount must be between 1 and 1000")
	}
	if s.byARN(p.DeadLetterTargetArn) == nil {
		return "", 0, &types.QueueDoesNotExist{
			Message:           ptr("Could not find DLQ for " + p.DeadLetterTargetArn),
			ErrorCodeOverride: ptr("AWS.SimpleQueueService.NonExistentQueue"),
		}
	}
	return p.DeadLetterTargetArn, n, nil
}

// redriveAllowPolicy checks a RedriveAllowPolicy. The fake keeps it but does not enforce it.
func redriveAllowPolicy(v string) error {
	var p struct {
		RedrivePermission string   `json:"redrivePermission"`
		SourceQueueArns   []string `json:"sourceQueueArns"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return invalidAttributeValue("RedriveAllowPolicy", v, err.Error())
	}
	switch {
	case p.RedrivePermission == "byQueue" && (len(p.SourceQueueArns) < 1 || len(p.SourceQueueArns) > 10):
		return invalidAttributeValue("RedriveAllowPolicy", v, "byQueue needs 1 to 10 sourceQueueArns")
	case p.RedrivePermission != "byQueue" && len(p.SourceQueueArns) > 0:
		return invalidAttributeValue("RedriveAllowPolicy", v, "sourceQueueArns is for byQueue only")
	case p.RedrivePermission != "allowAll" && p.RedrivePermission != "denyAll" && p.RedrivePermission != "byQueue":
		return invalidAttributeValue("RedriveAllowPolicy", v, "redrivePermission must be allowAll, denyAll or byQueue")
	}
	return nil
}

// SQS's limits on a queue's tags.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// TagQueue adds tags to the queue, replacing the value of a key it has; a queue holds at most 50.
func (s *SQS) TagQueue(_ context.Context, in *sqs.TagQueueInput, _ ...func(*sqs.Options)) (*sqs.TagQueueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("TagQueue"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, apiError("MissingParameter", "The request must contain the parameter Tags.")
	}
	if err := tag(q, in.Tags); err != nil {
		return nil, err
	}
	return &sqs.TagQueueOutput{}, nil
}

// tag adds tags to q, all or none. Callers hold s.mu.
func tag(q *fakeQueue, tags map[string]string) error {
	n := len(q.tags)
	for k, v := range tags {
		if len(k) < 1 || len(k) > maxTagKeyLen {
			return apiError("InvalidParameterValue", fmt.Sprintf("Tag key %q must be between 1 and %d characters in length.", k, maxTagKeyLen))
		}
		if len(v) > maxTagValueLen {
			return apiError("InvalidParameterValue", fmt.Sprintf("Tag value of %q must be at most %d characters in length.", k, maxTagValueLen))
		}
		if _, ok := q.tags[k]; !ok {
			n++
		}
	}
	if n > maxTags {
		return apiError("InvalidParameterValue", "Too many tags added for queue "+q.name+".")
	}
	for k, v := range tags {
		q.tags[k] = v
	}
	return nil
}

// UntagQueue removes the tags of the keys given; a key the queue does not have is no error.
func (s *SQS) UntagQueue(_ context.Context, in *sqs.UntagQueueInput, _ ...func(*sqs.Options)) (*sqs.UntagQueueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("UntagQueue"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, apiError("InvalidParameterValue", fmt.Sprintf("Tag keys must be between 1 and %d characters in length.", maxTagKeyLen))
	}
	for _, k := range in.TagKeys {
		delete(q.tags, k)
	}
	return &sqs.UntagQueueOutput{}, nil
}

// ListQueueTags returns the queue's tags; nil when it has none.
func (s *SQS) ListQueueTags(_ context.Context, in *sqs.ListQueueTagsInput, _ ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("ListQueueTags"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	out := &sqs.ListQueueTagsOutput{}
	for k, v := range q.tags {
		if out.Tags == nil {
			out.Tags = map[string]string{}
		}
		out.Tags[k] = v
	}
	return out, nil
}

// SendMessage appends a message, hidden for its DelaySeconds (the queue's when 0).
func (s *SQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("SendMessage"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	id, err := s.append(q, deref(in.MessageBody), in.DelaySeconds, in.MessageAttributes)
	if err != nil {
		return nil, err
	}
	return &sqs.SendMessageOutput{MessageId: &id}, nil
}

// maxBatchBytes is the most SQS takes in the messages of one SendMessageBatch, all together.
const maxBatchBytes = 1 << 20

// SendMessageBatch appends up to ten messages, each as SendMessage would; an entry SendMessage
// would refuse fails alone (as the sender's fault), as do the entries FailNextEntries queued.
func (s *SQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("SendMessageBatch"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := checkBatch("Send", len(in.Entries), func(i int) string { return deref(in.Entries[i].Id) }); err != nil {
		return nil, err
	}
	size := 0
	for _, e := range in.Entries {
		size += messageSize(deref(e.MessageBody), e.MessageAttributes)
	}
	if size > maxBatchBytes {
		return nil, &types.BatchRequestTooLong{
			Message:           ptr(fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", maxBatchBytes, size)),
			ErrorCodeOverride: ptr("AWS.SimpleQueueService.BatchRequestTooLong"),
		}
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if f, ok := s.failEntry("SendMessageBatch", deref(e.Id)); ok {
			out.Failed = append(out.Failed, f)
			continue
		}
		id, err := s.append(q, deref(e.MessageBody), e.DelaySeconds, e.MessageAttributes)
		if err != nil {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("InvalidParameterValue"), Message: ptr(err.Error()), SenderFault: true})
			continue
		}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: ptr(id)})
	}
	return out, nil
}

// batchEntryID is what SQS allows as the ID of a batch entry.
var batchEntryID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatch refuses a batch (of action "Send" or "Delete") of no entries, more than ten,
// entry IDs SQS does not allow, or entry IDs that repeat, as SQS does.
func checkBatch(action string, n int, id func(int) string) error {
	if n == 0 {
		return &types.EmptyBatchRequest{
			Message:           ptr("There should be at least one " + action + "MessageBatchRequestEntry in the request."),
			ErrorCodeOverride: ptr("AWS.SimpleQueueService.EmptyBatchRequest"),
		}
	}
	if n > 10 {
		return &types.TooManyEntriesInBatchRequest{
			Message:           ptr(fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", n)),
			ErrorCodeOverride: ptr("AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
		}
	}
	seen := map[string]bool{}
	for i := range n {
		if !batchEntryID.MatchString(id(i)) {
			return &types.InvalidBatchEntryId{
				Message:           ptr("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."),
				ErrorCodeOverride: ptr("AWS.SimpleQueueService.InvalidBatchEntryId"),
			}
		}
		if seen[id(i)] {
			return &types.BatchEntryIdsNotDistinct{
				Message:           ptr("Id " + id(i) + " repeated."),
				ErrorCodeOverride: ptr("AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
			}
		}
		seen[id(i)] = true
	}
	return nil
}

// messageSize is the size SQS counts against MaximumMessageSize: the body and each attribute's
// name, data type and value.
func messageSize(body string, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len(deref(v.DataType)) + len(deref(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// append adds a message to q and returns its ID; delay 0 is the queue's DelaySeconds. Callers
// hold s.mu.
func (s *SQS) append(q *fakeQueue, body string, delay int32, attrs map[string]types.MessageAttributeValue) (string, error) {
	if delay < 0 || delay > 900 {
		return "", apiError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", delay))
	}
	if delay == 0 {
		delay = int32(q.number("DelaySeconds"))
	}
	if body == "" {
		return "", apiError("MissingParameter", "The request must contain the parameter MessageBody.")
	}
	if len(attrs) > 10 {
		return "", apiError("InvalidParameterValue", "Number of message attributes ["+strconv.Itoa(len(attrs))+"] exceeds the allowed maximum [10].")
	}
	if max := q.number("MaximumMessageSize"); messageSize(body, attrs) > max {
		return "", apiError("InvalidParameterValue", fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", max))
	}
	s.seq++
	now := s.clock.Now()
	m := &fakeMessage{
		id: fmt.Sprintf("msg-%d", s.seq), body: body, attrs: attrs,
		sentAt: now, visibleAt: now.Add(time.Duration(delay) * time.Second),
	}
	q.msgs = append(q.msgs, m)
	s.notify()
	return m.id, nil
}

// number is the queue's numeric attribute k.
func (q *fakeQueue) number(k string) int {
	n, _ := strconv.Atoi(q.attrs[k])
	return n
}

// ReceiveMessage returns up to MaxNumberOfMessages visible messages, waiting up to
// WaitTimeSeconds (the queue's ReceiveMessageWaitTimeSeconds when 0), or until ctx is done, for
// one to appear. A message whose receive count has reached the redrive policy's maxReceiveCount
// moves to the dead-letter queue instead. The wait is on the fake's clock.
func (s *SQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.mu.Lock()
	if err := s.enter("ReceiveMessage"); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := checkReceive(in); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	wait := time.Duration(in.WaitTimeSeconds) * time.Second
	if in.WaitTimeSeconds == 0 {
		wait = time.Duration(q.number("ReceiveMessageWaitTimeSeconds")) * time.Second
	}
	deadline := s.clock.Now().Add(wait)
	s.mu.Unlock()
	max := int(in.MaxNumberOfMessages)
	if max == 0 {
		max = 1
	}
	for {
		s.mu.Lock()
		q, err := s.queue(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		visibility := time.Duration(in.VisibilityTimeout) * time.Second
		if in.VisibilityTimeout == 0 {
			visibility = time.Duration(q.number("VisibilityTimeout")) * time.Second
		}
		now := s.clock.Now()
		got, next := s.take(q, now, max, visibility)
		changed := s.changed
		lost := len(got) > 0 && s.loseReceives > 0
		if lost {
			s.loseReceives--
		}
		s.mu.Unlock()
		if lost {
			return nil, apiError("RequestTimeout", "the answer was lost on the way back (LoseNextReceive)")
		}
		if len(got) > 0 || !now.Before(deadline) {
			return &sqs.ReceiveMessageOutput{Messages: got}, nil
		}
		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		t := s.clock.NewTimer(clock.Until(s.clock, wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C():
		}
		t.Stop()
	}
}

// checkReceive refuses the parameters of a receive that SQS refuses.
func checkReceive(in *sqs.ReceiveMessageInput) error {
	switch {
	case in.MaxNumberOfMessages < 0 || in.MaxNumberOfMessages > 10:
		return apiError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: must be between 1 and 10, if provided.", in.MaxNumberOfMessages))
	case in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20:
		return apiError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: must be >= 0 and <= 20, if provided.", in.WaitTimeSeconds))
	case in.VisibilityTimeout < 0 || in.VisibilityTimeout > 43200:
		return apiError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: must be >= 0 and <= 43200, if provided.", in.VisibilityTimeout))
	}
	return nil
}

// take receives up to max messages of q visible at now; next is when the next hidden one shows.
// Callers hold s.mu.
func (s *SQS) take(q *fakeQueue, now time.Time, max int, visibility time.Duration) (got []types.Message, next time.Time) {
	s.expire(q, now)
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if m.visibleAt.After(now) || len(got) == max {
			if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
				next = m.visibleAt
			}
			kept = append(kept, m)
			continue
		}
		if q.dlq != "" && m.receiveCount >= q.maxReceive {
			if dlq := s.byARN(q.dlq); dlq != nil {
				m.visibleAt, m.handle = now, ""
				dlq.msgs = append(dlq.msgs, m)
				s.notify()
				continue
			}
		}
		s.seq++
		m.receiveCount++
		m.receivedAt = now
		m.visibleAt = now.Add(visibility)
		m.handle = fmt.Sprintf("%s#%d", m.id, s.seq)
		got = append(got, types.Message{
			MessageId:         ptr(m.id),
			Body:              ptr(m.body),
			ReceiptHandle:     ptr(m.handle),
			MessageAttributes: m.attrs,
			Attributes: map[string]string{
				"ApproximateReceiveCount": strconv.Itoa(m.receiveCount),
				"SentTimestamp":           strconv.FormatInt(m.sentAt.UnixMilli(), 10),
			},
		})
		if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
		kept = append(kept, m)
	}
	q.msgs = kept
	return got, next
}

// expire drops the messages of q older than its MessageRetentionPeriod at now; a message in a
// dead-letter queue keeps the age it had when it was first sent, as in a standard queue. Callers
// hold s.mu.
func (s *SQS) expire(q *fakeQueue, now time.Time) {
	retention := time.Duration(q.number("MessageRetentionPeriod")) * time.Second
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if now.Sub(m.sentAt) < retention {
			kept = append(kept, m)
		}
	}
	clear(q.msgs[len(kept):])
	q.msgs = kept
}

// DeleteMessage deletes the message of the receipt handle of its latest receive.
func (s *SQS) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("DeleteMessage"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := s.remove(q, deref(in.ReceiptHandle)); err != nil {
		return nil, err
	}
	return &sqs.DeleteMessageOutput{}, nil
}

// DeleteMessageBatch deletes up to ten messages, each as DeleteMessage would; an entry whose
// receipt handle is not the latest fails alone, as do the entries FailNextEntries queued.
func (s *SQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("DeleteMessageBatch"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := checkBatch("Delete", len(in.Entries), func(i int) string { return deref(in.Entries[i].Id) }); err != nil {
		return nil, err
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		if f, ok := s.failEntry("DeleteMessageBatch", deref(e.Id)); ok {
			out.Failed = append(out.Failed, f)
			continue
		}
		if err := s.remove(q, deref(e.ReceiptHandle)); err != nil {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: ptr("ReceiptHandleIsInvalid"), Message: ptr(err.Error()), SenderFault: true})
			continue
		}
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// remove deletes the message of the receipt handle. Callers hold s.mu.
func (s *SQS) remove(q *fakeQueue, handle string) error {
	for i, m := range q.msgs {
		if m.handle != "" && m.handle == handle {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			s.notify()
			return nil
		}
	}
	return receiptHandleInvalid(handle)
}

// maxInFlight is how long SQS keeps a message hidden after a receive, extensions included.
const maxInFlight = 12 * time.Hour

// ChangeMessageVisibility hides an in-flight message for VisibilityTimeout seconds from now
// (0 makes it visible at once). As in SQS, a message stays hidden at most 12 hours after its
// receive: a timeout that would end later is refused, not shortened.
func (s *SQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("ChangeMessageVisibility"); err != nil {
		return nil, err
	}
	q, err := s.queue(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout < 0 || in.VisibilityTimeout > 43200 {
		return nil, apiError("InvalidParameterValue", "Invalid request, maximum visibility timeout is 43200")
	}
	now := s.clock.Now()
	for _, m := range q.msgs {
		if m.handle != "" && m.handle == deref(in.ReceiptHandle) {
			if !m.visibleAt.After(now) {
				return nil, &types.MessageNotInflight{
					Message:           ptr("message " + m.id + " is not in flight"),
					ErrorCodeOverride: ptr("AWS.SimpleQueueService.MessageNotInflight"),
				}
			}
			until := now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
			if until.Sub(m.receivedAt) > maxInFlight {
				return nil, apiError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]", in.VisibilityTimeout))
			}
			m.visibleAt = until
			s.notify()
			return &sqs.ChangeMessageVisibilityOutput{}, nil
		}
	}
	return nil, receiptHandleInvalid(deref(in.ReceiptHandle))
}

// QueueNames lists the names of all queues, sorted.
func (s *SQS) QueueNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, q := range s.queues {
		names = append(names, q.name)
	}
	sort.Strings(names)
	return names
}

// enter counts a call of op and returns the failure queued for it, if any. Callers hold s.mu.
func (s *SQS) enter(op string) error {
	s.calls[op]++
	if errs := s.failNext[op]; len(errs) > 0 {
		s.failNext[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (s *SQS) queue(url *string) (*fakeQueue, error) {
	q := s.queues[deref(url)]
	if q == nil {
		return nil, queueMissing()
	}
	return q, nil
}

func (s *SQS) byARN(arn string) *fakeQueue {
	for _, q := range s.queues {
		if q.arn == arn {
			return q
		}
	}
	return nil
}

func (s *SQS) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// queueMissing is SQS's answer about a queue that does not exist as the SDK surfaces it: a
// *types.QueueDoesNotExist with the code SQS sends in its x-amzn-query-error header.
func queueMissing() error {
	return &types.QueueDoesNotExist{
		Message:           ptr("The specified queue does not exist."),
		ErrorCodeOverride: ptr("AWS.SimpleQueueService.NonExistentQueue"),
	}
}

func receiptHandleInvalid(handle string) error {
	return &types.ReceiptHandleIsInvalid{Message: ptr("The input receipt handle " + strconv.Quote(handle) + " is invalid.")}
}

func invalidAttributeValue(name, value, reason string) error {
	return &types.InvalidAttributeValue{Message: ptr(fmt.Sprintf("Invalid value for the parameter %s (%q): %s.", name, value, reason))}
}

// paramRequired is the SDK's own error for a required member left nil: it never reaches SQS.
func paramRequired(input, field string) error {
	err := smithy.InvalidParamsError{Context: input}
	err.Add(smithy.NewErrParamRequired(field))
	return err
}

func apiError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }
