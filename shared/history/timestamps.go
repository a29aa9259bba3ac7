package history

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// fractionalMillis matches a log event's millisecond time written with a fraction.
var fractionalMillis = regexp.MustCompile(`"(timestamp|ingestionTime)":\s*(\d+)\.\d+`)

// IntegerTimestamps wraps the HTTP client of a CloudWatch Logs client so that a log event's
// "timestamp" or "ingestionTime" written with a fraction of a millisecond reads as the whole
// millisecond. moto (5.2) stores the events that an EventBridge rule delivers to a log group with
// such a timestamp, and the SDK refuses the whole page ("invalid int"); CloudWatch Logs itself
// always writes integers, so against AWS nothing changes. nil wraps the SDK's default client.
func IntegerTimestamps(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	return integerTimestamps{next: c}
}

type integerTimestamps struct{ next aws.HTTPClient }

func (c integerTimestamps) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s response: %w", req.URL.Host, err)
	}
	if fractionalMillis.Match(body) {
		body = fractionalMillis.ReplaceAll(body, []byte(`"$1":$2`))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
