package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client talks to a running fleetsim's admin API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the fleetsim at baseURL (e.g. "http://127.0.0.1:4599").
func New(baseURL string) *Client {
	return NewWithHTTPClient(baseURL, http.DefaultClient)
}

// NewWithHTTPClient returns a client for the fleetsim at baseURL that sends its requests with hc
// (tests hand it a client that serves fleetsim in process).
func NewWithHTTPClient(baseURL string, hc *http.Client) *Client {
	return &Client{base: strings.TrimSuffix(baseURL, "/"), http: hc}
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("call %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Healthy reports whether fleetsim answers its health check.
func (c *Client) Healthy(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/fleetsim/healthz", "", nil, nil)
}

// LoadScenario replaces the world with the scenario (YAML or JSON) and returns the new state.
func (c *Client) LoadScenario(ctx context.Context, scenario []byte) (State, error) {
	var st State
	err := c.do(ctx, http.MethodPut, "/fleetsim/scenario", "application/yaml", scenario, &st)
	return st, err
}

// State returns the world now.
func (c *Client) State(ctx context.Context) (State, error) {
	var st State
	err := c.do(ctx, http.MethodGet, "/fleetsim/state", "", nil, &st)
	return st, err
}

// Report returns the report.
func (c *Client) Report(ctx context.Context) (Report, error) {
	var r Report
	err := c.do(ctx, http.MethodGet, "/fleetsim/report", "", nil, &r)
	return r, err
}

// InjectFaults adds host and API faults.
func (c *Client) InjectFaults(ctx context.Context, f Faults) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode faults: %w", err)
	}
	return c.do(ctx, http.MethodPost, "/fleetsim/faults", "application/json", b, nil)
}

// ClearFaults removes every host and API fault.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/fleetsim/faults", "", nil, nil)
}

// PublishRelease publishes a release to the update repository, rel.ReleasedAt (virtual) from now.
func (c *Client) PublishRelease(ctx context.Context, rel Release) error {
	b, err := json.Marshal(rel)
	if err != nil {
		return fmt.Errorf("encode release: %w", err)
	}
	return c.do(ctx, http.MethodPost, "/fleetsim/releases", "application/json", b, nil)
}
