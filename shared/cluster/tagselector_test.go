package cluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTagSelector(t *testing.T) {
	tests := []struct {
		in      string
		want    *TagSelector
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "rollwave=on", want: &TagSelector{Key: "rollwave", Value: "on"}},
		{in: " rollwave = on ", want: &TagSelector{Key: "rollwave", Value: "on"}},
		{in: " team ", want: &TagSelector{Key: "team"}},
		{in: "team=", want: &TagSelector{Key: "team"}},
		{in: "a=b=c", want: &TagSelector{Key: "a", Value: "b=c"}},
		{in: "=on", wantErr: true},
		{in: " = on", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTagSelector(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTagSelector(%q) error = %v, want error %t", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTagSelector(%q) = %v, want %v (-want +got):\n%s", tt.in, got, tt.want, diff)
		}
	}
}

func TestTagSelectorStringRoundTrips(t *testing.T) {
	for _, s := range []string{"rollwave=on", "team"} {
		sel, err := ParseTagSelector(s)
		if err != nil {
			t.Fatalf("ParseTagSelector(%q): %v", s, err)
		}
		if got := sel.String(); got != s {
			t.Errorf("ParseTagSelector(%q).String() = %q, want %q", s, got, s)
		}
	}
}
