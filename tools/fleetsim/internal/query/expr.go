package query

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type operator int

const (
	opEq operator = iota + 1
	opNe
	opGt
	opGe
	opLt
	opLe
	opExists
	opNotExists
	opIn
	opNotIn
	opMatches
	opNotMatches
)

var opSymbols = map[operator]string{
	opEq: "==", opNe: "!=", opGt: ">", opGe: ">=", opLt: "<", opLe: "<=",
	opExists: "exists", opNotExists: "!exists", opIn: "in", opNotIn: "!in",
	opMatches: "=~", opNotMatches: "!~",
}

// wordOperators are the operators written as words.
var wordOperators = map[string]operator{
	"equals": opEq, "not_equals": opNe,
	"greater_than": opGt, "greater_than_equal": opGe,
	"less_than": opLt, "less_than_equal": opLe,
	"exists": opExists, "not_exists": opNotExists,
	"in": opIn, "not_in": opNotIn,
	"matches": opMatches, "not_matches": opNotMatches,
}

// String returns the canonical spelling of the operator.
func (o operator) String() string { return opSymbols[o] }

// negated reports whether o is the negation of another operator.
func (o operator) negated() bool {
	return o == opNe || o == opNotExists || o == opNotIn || o == opNotMatches
}

// positive returns the operator that o negates, or o itself.
func (o operator) positive() operator {
	switch o {
	case opNe:
		return opEq
	case opNotExists:
		return opExists
	case opNotIn:
		return opIn
	case opNotMatches:
		return opMatches
	}
	return o
}

type subjectKind int

const (
	subjAgentConnected subjectKind = iota
	subjAgentVersion
	subjAttribute
	subjEC2InstanceID
	subjRegisteredAt
	subjRunningTasksCount
	subjTaskGroup
)

var subjectNames = map[subjectKind]string{
	subjAgentConnected:    "agentConnected",
	subjAgentVersion:      "agentVersion",
	subjAttribute:         "attribute:",
	subjEC2InstanceID:     "ec2InstanceId",
	subjRegisteredAt:      "registeredAt",
	subjRunningTasksCount: "runningTasksCount",
	subjTaskGroup:         "task:group",
}

var (
	equalityOps = []operator{opEq, opNe, opIn, opNotIn, opMatches, opNotMatches}
	orderingOps = []operator{opEq, opNe, opGt, opGe, opLt, opLe}
	allOps      = []operator{opEq, opNe, opGt, opGe, opLt, opLe, opExists, opNotExists, opIn, opNotIn, opMatches, opNotMatches}
)

// operators returns the operators valid for the subject kind, as AWS
// documents them (task:group: our choice, AWS lists none).
func (k subjectKind) operators() []operator {
	switch k {
	case subjAgentConnected, subjEC2InstanceID:
		return equalityOps
	case subjAgentVersion, subjRegisteredAt, subjRunningTasksCount:
		return orderingOps
	case subjTaskGroup:
		return append(slices.Clip(equalityOps), opExists, opNotExists)
	}
	return allOps
}

type subject struct {
	kind subjectKind
	name string // attribute name, for subjAttribute
}

func (s subject) String() string { return subjectNames[s.kind] + s.name }

// values returns the string values of the subject on an instance: none for
// an absent attribute, one per task group for task:group.
func (s subject) values(in Subject) []string {
	switch s.kind {
	case subjAgentConnected:
		return []string{strconv.FormatBool(in.AgentConnected())}
	case subjAgentVersion:
		return []string{in.AgentVersion()}
	case subjAttribute:
		if v, ok := in.Attribute(s.name); ok {
			return []string{v}
		}
		return nil
	case subjEC2InstanceID:
		return []string{in.EC2InstanceID()}
	case subjTaskGroup:
		return in.TaskGroups()
	}
	panic(fmt.Sprintf("query: subject %v has no string values", s))
}

// comparison is "subject operator [argument]".
type comparison struct {
	subj  subject
	op    operator
	args  []string       // as written (agentConnected lower-cased)
	count int            // runningTasksCount argument
	at    instant        // registeredAt argument
	re    *regexp.Regexp // =~ and !~ argument, anchored
}

// Match reports whether the instance satisfies the comparison.
func (c *comparison) Match(s Subject) bool {
	return c.matchPositive(s) != c.op.negated()
}

func (c *comparison) matchPositive(s Subject) bool {
	op := c.op.positive()
	switch c.subj.kind {
	case subjRunningTasksCount:
		return ordered(op, cmp.Compare(s.RunningTasksCount(), c.count))
	case subjRegisteredAt:
		return ordered(op, c.at.compare(s.RegisteredAt()))
	}
	vals := c.subj.values(s)
	if op == opExists {
		return len(vals) > 0
	}
	for _, v := range vals {
		var ok bool
		switch op {
		case opEq:
			ok = v == c.args[0]
		case opIn:
			ok = slices.Contains(c.args, v)
		case opMatches:
			ok = c.re.MatchString(v)
		default:
			ok = ordered(op, compareNatural(v, c.args[0]))
		}
		if ok {
			return true
		}
	}
	return false
}

// ordered applies an equality or ordering operator to the result of a
// three-way comparison of the subject with the argument.
func ordered(op operator, c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	}
	panic(fmt.Sprintf("query: operator %v is not an ordering", op))
}

// String returns the comparison in canonical form.
func (c *comparison) String() string {
	var b strings.Builder
	b.WriteString(c.subj.String())
	b.WriteByte(' ')
	b.WriteString(c.op.String())
	switch c.op.positive() {
	case opExists:
	case opIn:
		b.WriteString(" [")
		for i, a := range c.args {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(a))
		}
		b.WriteByte(']')
	default:
		b.WriteByte(' ')
		b.WriteString(quote(c.args[0]))
	}
	return b.String()
}

type andExpr struct{ terms []Expr }

// Match reports whether every term matches.
func (a *andExpr) Match(s Subject) bool {
	for _, t := range a.terms {
		if !t.Match(s) {
			return false
		}
	}
	return true
}

// String joins the terms with "and", parenthesising or-terms.
func (a *andExpr) String() string {
	parts := make([]string, len(a.terms))
	for i, t := range a.terms {
		parts[i] = fmt.Sprint(t)
		if _, ok := t.(*orExpr); ok {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " and ")
}

type orExpr struct{ terms []Expr }

// Match reports whether any term matches.
func (o *orExpr) Match(s Subject) bool {
	for _, t := range o.terms {
		if t.Match(s) {
			return true
		}
	}
	return false
}

// String joins the terms with "or"; and binds tighter, so no parentheses.
func (o *orExpr) String() string {
	parts := make([]string, len(o.terms))
	for i, t := range o.terms {
		parts[i] = fmt.Sprint(t)
	}
	return strings.Join(parts, " or ")
}

type notExpr struct{ x Expr }

// Match reports whether x does not match.
func (n *notExpr) Match(s Subject) bool { return !n.x.Match(s) }

// String returns "not (x)".
func (n *notExpr) String() string { return "not (" + fmt.Sprint(n.x) + ")" }

// keywords are the words that need quoting to read as values.
var keywords = map[string]bool{"and": true, "or": true, "not": true}

// quote returns v as a bare word when it reads back as one, else quoted with
// a quote character v does not contain (a parsed value never contains both).
func quote(v string) string {
	bare := v != "" && !keywords[v] && !strings.ContainsFunc(v, func(r rune) bool {
		return r < 0x80 && !isWordByte(byte(r))
	}) && wordOperators[v] == 0
	switch {
	case bare:
		return v
	case strings.Contains(v, "'"):
		return `"` + v + `"`
	default:
		return "'" + v + "'"
	}
}

// instant is a registeredAt argument and the precision it was written with.
type instant struct {
	t   time.Time
	day bool // date only: compare UTC days
}

var instantLayouts = []struct {
	layout string
	day    bool
}{
	{"2006-01-02T15:04:05Z07:00", false}, // 2018-06-18T22:28:28+00:00 and ...Z
	{"2006-01-02T15:04:05", false},       // UTC
	{"2006-01-02", true},                 // UTC day
}

func parseInstant(v string) (instant, error) {
	// time.Parse accepts fractional seconds that no layout asks for; AWS's
	// formats have none.
	if !strings.Contains(v, ".") {
		for _, l := range instantLayouts {
			if t, err := time.Parse(l.layout, v); err == nil {
				return instant{t: t, day: l.day}, nil
			}
		}
	}
	return instant{}, fmt.Errorf("registeredAt compares with a date or time like 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18, not %s", quote(v))
}

// compare compares t, truncated to the argument's precision, with the
// argument.
func (in instant) compare(t time.Time) int {
	t = t.UTC().Truncate(time.Second)
	if in.day {
		t = t.Truncate(24 * time.Hour)
	}
	return t.Compare(in.t)
}

// compareNatural compares a and b with runs of ASCII digits taken as
// numbers, so "1.9" < "1.14"; equal-valued strings that differ only in
// leading zeros fall back to byte order, so the order is total.
func compareNatural(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		if isDigit(x[0]) && isDigit(y[0]) {
			var nx, ny string
			nx, x = splitDigits(x)
			ny, y = splitDigits(y)
			nx, ny = strings.TrimLeft(nx, "0"), strings.TrimLeft(ny, "0")
			if c := cmp.Compare(len(nx), len(ny)); c != 0 {
				return c
			}
			if c := strings.Compare(nx, ny); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		x, y = x[1:], y[1:]
	}
	if c := cmp.Compare(len(x), len(y)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func splitDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
