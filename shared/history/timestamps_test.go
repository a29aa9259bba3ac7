package history_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rollwave/rollwave/shared/history"
)

type fixedResponse string

func (f fixedResponse) Do(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(string(f)))}, nil
}

func TestIntegerTimestamps(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"moto's fractional milliseconds", `{"events":[{"timestamp": 1796475398713.8528,"ingestionTime":1796475398714.25,"message":"m"}]}`,
			`{"events":[{"timestamp":1796475398713,"ingestionTime":1796475398714,"message":"m"}]}`},
		{"whole milliseconds pass unchanged", `{"events":[{"timestamp":1796475398713,"message":"1.5"}]}`,
			`{"events":[{"timestamp":1796475398713,"message":"1.5"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://logs.test", nil)
			resp, err := history.IntegerTimestamps(fixedResponse(tt.body)).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if string(got) != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
		})
	}
}
