package cluster

import (
	"fmt"
	"strings"
)

// TagSelector selects clusters by a tag: those carrying Key with Value, or with any value when
// Value is "". It is what ClustersTagged takes, read from ROLLWAVE_CLUSTER_TAG by the scanner
// (which scans the clusters it selects) and the drainer (whose global limit counts them).
type TagSelector struct {
	Key, Value string
}

// String returns the selector as ParseTagSelector reads it: "key=value", or "key" for any value.
func (t TagSelector) String() string {
	if t.Value == "" {
		return t.Key
	}
	return t.Key + "=" + t.Value
}

// ParseTagSelector reads "key=value", or "key" for any value, trimming spaces around both.
// "" (or only spaces) selects nothing and returns nil, nil; an empty key is an error.
func ParseTagSelector(s string) (*TagSelector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	k, v, _ := strings.Cut(s, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if k == "" {
		return nil, fmt.Errorf("%q: want key=value or key", s)
	}
	return &TagSelector{Key: k, Value: v}, nil
}
