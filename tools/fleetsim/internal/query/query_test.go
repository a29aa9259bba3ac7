package query

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// instance is a Subject for tests.
type instance struct {
	attrs      map[string]string
	id         string
	tasks      int
	connected  bool
	version    string
	registered time.Time
	groups     []string
}

func (i *instance) Attribute(name string) (string, bool) { v, ok := i.attrs[name]; return v, ok }
func (i *instance) EC2InstanceID() string                { return i.id }
func (i *instance) RunningTasksCount() int               { return i.tasks }
func (i *instance) AgentConnected() bool                 { return i.connected }
func (i *instance) AgentVersion() string                 { return i.version }
func (i *instance) RegisteredAt() time.Time              { return i.registered }
func (i *instance) TaskGroups() []string                 { return i.groups }

var _ Subject = (*instance)(nil)

// inst returns a t2.small in us-east-1a running one production task,
// registered on 2018-02-12 at 10:00 UTC, changed by mods.
func inst(mods ...func(*instance)) *instance {
	i := &instance{
		attrs: map[string]string{
			"ecs.instance-type":     "t2.small",
			"ecs.availability-zone": "us-east-1a",
			"ecs.os-type":           "linux",
			"ecs.ami-id":            "ami-1234",
			"bottlerocket.variant":  "aws-ecs-2",
			"empty":                 "",
		},
		id:         "i-abcd1234",
		tasks:      1,
		connected:  true,
		version:    "1.14.4",
		registered: time.Date(2018, 2, 12, 10, 0, 0, 0, time.UTC),
		groups:     []string{"service:production"},
	}
	for _, m := range mods {
		m(i)
	}
	return i
}

func attr(name, value string) func(*instance) {
	return func(i *instance) { i.attrs[name] = value }
}
func noAttr(name string) func(*instance) { return func(i *instance) { delete(i.attrs, name) } }
func id(v string) func(*instance)        { return func(i *instance) { i.id = v } }
func tasks(n int) func(*instance)        { return func(i *instance) { i.tasks = n } }
func disconnected(i *instance)           { i.connected = false }
func version(v string) func(*instance)   { return func(i *instance) { i.version = v } }
func groups(g ...string) func(*instance) { return func(i *instance) { i.groups = g } }
func registered(s string) func(*instance) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return func(i *instance) { i.registered = t }
}

type matchCase struct {
	rule string
	expr string
	in   *instance
	want bool
}

// awsExamples are the example expressions of AWS's "Cluster query language"
// page and the ones our reference quotes, with what they select.
var awsExamples = []matchCase{
	{"string equality selects the instance type", "attribute:ecs.instance-type == t2.small", inst(), true},
	{"string equality rejects another type", "attribute:ecs.instance-type == t2.small", inst(attr("ecs.instance-type", "t2.micro")), false},
	{"regex selects t2 instances", "attribute:ecs.instance-type =~ t2.*", inst(), true},
	{"regex rejects m5 instances", "attribute:ecs.instance-type =~ t2.*", inst(attr("ecs.instance-type", "m5.large")), false},
	{"argument list selects us-east-1a", "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", inst(), true},
	{"argument list selects us-east-1b", "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", inst(attr("ecs.availability-zone", "us-east-1b")), true},
	{"argument list rejects us-east-1c", "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", inst(attr("ecs.availability-zone", "us-east-1c")), false},
	{"compound selects g2 outside us-east-1d", "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", inst(attr("ecs.instance-type", "g2.2xlarge")), true},
	{"compound rejects g2 in us-east-1d", "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", inst(attr("ecs.instance-type", "g2.2xlarge"), attr("ecs.availability-zone", "us-east-1d")), false},
	{"compound rejects t2", "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d", inst(), false},
	{"task affinity selects hosts of the group", "task:group == service:production", inst(), true},
	{"task affinity rejects hosts without it", "task:group == service:production", inst(groups("database")), false},
	{"task anti-affinity rejects hosts of the group", "not(task:group == database)", inst(groups("service:production", "database")), false},
	{"task anti-affinity selects other hosts", "not(task:group == database)", inst(), true},
	{"task anti-affinity selects empty hosts", "not(task:group == database)", inst(groups()), true},
	{"running task count selects one task", "runningTasksCount == 1", inst(), true},
	{"running task count rejects two tasks", "runningTasksCount == 1", inst(tasks(2)), false},
	{"running task count zero selects empty hosts", "runningTasksCount == 0", inst(tasks(0)), true},
	{"agent version below 1.14.5 selects 1.14.4", "agentVersion < 1.14.5", inst(), true},
	{"agent version below 1.14.5 selects 1.9.0", "agentVersion < 1.14.5", inst(version("1.9.0")), true},
	{"agent version below 1.14.5 rejects 1.14.5", "agentVersion < 1.14.5", inst(version("1.14.5")), false},
	{"agent version below 1.14.5 rejects 1.100.0", "agentVersion < 1.14.5", inst(version("1.100.0")), false},
	{"registered before 2018-02-13 selects the 12th", "registeredAt < 2018-02-13", inst(), true},
	{"registered before 2018-02-13 rejects the 13th", "registeredAt < 2018-02-13", inst(registered("2018-02-13T00:00:00Z")), false},
	{"registered before 2016-08-05 rejects 2018", "registeredAt < 2016-08-05", inst(), false},
	{"registered before 2016-08-05 selects 2016-08-04", "registeredAt < 2016-08-05", inst(registered("2016-08-04T23:59:59Z")), true},
	{"quoted instance id list selects a listed id", "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", inst(), true},
	{"quoted instance id list rejects others", "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", inst(id("i-0000")), false},
	{"bare instance id list", "ec2InstanceId in [i-1, i-2]", inst(id("i-2")), true},
	{"disconnected agents are selected", "agentConnected == false", inst(disconnected), true},
	{"connected agents are not", "agentConnected == false", inst(), false},
	{"exists selects Bottlerocket", "attribute:bottlerocket.variant exists", inst(), true},
	{"exists rejects other AMIs", "attribute:bottlerocket.variant exists", inst(noAttr("bottlerocket.variant")), false},
	{"variant regex", "attribute:bottlerocket.variant =~ aws-ecs-.*", inst(), true},
	{"variant regex rejects k8s", "attribute:bottlerocket.variant =~ aws-ecs-.*", inst(attr("bottlerocket.variant", "aws-k8s-1.29")), false},
}

// rules are the semantics the package documents.
var rules = []matchCase{
	// Operators spelt as words mean the same as symbols.
	{"equals", "attribute:ecs.os-type equals linux", inst(), true},
	{"not_equals", "attribute:ecs.os-type not_equals linux", inst(), false},
	{"greater_than", "runningTasksCount greater_than 0", inst(), true},
	{"greater_than_equal", "runningTasksCount greater_than_equal 2", inst(), false},
	{"less_than", "runningTasksCount less_than 2", inst(), true},
	{"less_than_equal", "runningTasksCount less_than_equal 0", inst(), false},
	{"not_exists", "attribute:updater.optout not_exists", inst(), true},
	{"not_in", "ec2InstanceId not_in [i-abcd1234]", inst(), false},
	{"matches", "ec2InstanceId matches i-.*", inst(), true},
	{"not_matches", "ec2InstanceId not_matches i-.*", inst(), false},
	{"!exists", "attribute:updater.optout !exists", inst(attr("updater.optout", "true")), false},
	{"!in", "attribute:ecs.os-type !in [windows, linux]", inst(), false},

	// Absent attributes: positive operators fail, negated ones succeed.
	{"== on an absent attribute", "attribute:missing == x", inst(), false},
	{"!= on an absent attribute", "attribute:missing != x", inst(), true},
	{"in on an absent attribute", "attribute:missing in [x]", inst(), false},
	{"!in on an absent attribute", "attribute:missing !in [x]", inst(), true},
	{"=~ on an absent attribute", "attribute:missing =~ .*", inst(), false},
	{"!~ on an absent attribute", "attribute:missing !~ .*", inst(), true},
	{"> on an absent attribute", "attribute:missing > a", inst(), false},
	{"<= on an absent attribute", "attribute:missing <= z", inst(), false},
	{"exists on an empty attribute", "attribute:empty exists", inst(), true},
	{"empty string equals an empty attribute", "attribute:empty == ''", inst(), true},
	{"empty double-quoted string", `attribute:empty == ""`, inst(), true},
	{"regex .* matches an empty attribute", "attribute:empty =~ .*", inst(), true},

	// Regular expressions match the whole value.
	{"regex is anchored at the start", "attribute:ecs.instance-type =~ small", inst(), false},
	{"regex is anchored at the end", "attribute:ecs.instance-type =~ t2", inst(), false},
	{"alternation stays inside the anchors", "attribute:ecs.instance-type =~ 'x|t2.small'", inst(), true},
	{"alternation does not match a prefix", "attribute:ecs.instance-type =~ 't2|x'", inst(), false},
	{"escaped dot", `attribute:ecs.instance-type =~ t2\.small`, inst(), true},
	{"escaped dot is literal", `attribute:ecs.instance-type =~ t2\.small`, inst(attr("ecs.instance-type", "t2xsmall")), false},
	{"quoted regex with parentheses", "attribute:ecs.instance-type =~ '(t2|t3)[.](small|micro)'", inst(), true},
	{"!~ negates", "attribute:ecs.instance-type !~ t2.*", inst(), false},
	{"agentConnected regex", "agentConnected =~ tr.*", inst(), true},

	// Strings compare exactly for equality and naturally for order.
	{"equality is case-sensitive", "attribute:ecs.os-type == Linux", inst(), false},
	{"natural order: t10 > t2", "attribute:ecs.instance-type > t2.small", inst(attr("ecs.instance-type", "t10.small")), true},
	{"natural order: 1.9 < 1.14", "agentVersion >= 1.14.0", inst(version("1.9.9")), false},
	{"agent version equality", "agentVersion == 1.14.4", inst(), true},
	{"agent version !=", "agentVersion != 1.14.4", inst(), false},
	{"agent version <=", "agentVersion <= 1.14.4", inst(), true},
	{"agent version >", "agentVersion > 1.14.4", inst(), false},
	{"longer version with the same prefix is greater", "agentVersion > 1.14", inst(), true},
	{"ordering on attributes", "attribute:ecs.availability-zone < us-east-1b", inst(), true},

	// runningTasksCount compares as a number.
	{"10 > 9 numerically", "runningTasksCount > 9", inst(tasks(10)), true},
	{"!= count", "runningTasksCount != 1", inst(), false},
	{"quoted count", "runningTasksCount == '1'", inst(), true},

	// registeredAt compares at the precision of the argument.
	{"date equality matches the whole UTC day", "registeredAt == 2018-02-12", inst(), true},
	{"date equality rejects the next day", "registeredAt == 2018-02-12", inst(registered("2018-02-13T00:00:00Z")), false},
	{"<= a date includes that day", "registeredAt <= 2018-02-12", inst(registered("2018-02-12T23:59:59Z")), true},
	{"> a date starts the next day", "registeredAt > 2018-02-12", inst(registered("2018-02-12T23:59:59Z")), false},
	{">= a date includes that day", "registeredAt >= 2018-02-12", inst(), true},
	{"date is a UTC day", "registeredAt == 2018-02-13", inst(registered("2018-02-12T23:30:00-01:00")), true},
	{"time with offset", "registeredAt == 2018-02-12T11:00:00+01:00", inst(), true},
	{"time with Z", "registeredAt == 2018-02-12T10:00:00Z", inst(), true},
	{"time without zone is UTC", "registeredAt == 2018-02-12T10:00:00", inst(), true},
	{"time compares to the second", "registeredAt == 2018-02-12T10:00:00Z", inst(registered("2018-02-12T10:00:00.9Z")), true},
	{"a later second is greater", "registeredAt > 2018-02-12T09:59:59Z", inst(), true},
	{"!= time", "registeredAt != 2018-02-12T10:00:00Z", inst(), false},

	// agentConnected takes true or false in any case.
	{"agentConnected == true", "agentConnected == true", inst(), true},
	{"agentConnected == TRUE", "agentConnected == TRUE", inst(), true},
	{"agentConnected != true", "agentConnected != true", inst(disconnected), true},
	{"agentConnected in list", "agentConnected in [false]", inst(), false},

	// task:group: any group satisfies a positive operator.
	{"task:group in", "task:group in [database, service:production]", inst(), true},
	{"task:group regex", "task:group =~ service:.*", inst(groups("database", "service:web")), true},
	{"task:group != is anti-affinity", "task:group != database", inst(groups("database", "web")), false},
	{"task:group != on an empty host", "task:group != database", inst(groups()), true},
	{"task:group exists", "task:group exists", inst(), true},
	{"task:group exists on an empty host", "task:group exists", inst(groups()), false},
	{"task:group !exists on an empty host", "task:group !exists", inst(groups()), true},

	// Compound expressions: not > and > or.
	{"and binds tighter than or (left)", "runningTasksCount == 0 and agentConnected == true or attribute:ecs.os-type == linux", inst(), true},
	{"and binds tighter than or (right)", "attribute:ecs.os-type == linux or runningTasksCount == 0 and agentConnected == false", inst(), true},
	{"parentheses override precedence", "(attribute:ecs.os-type == linux or runningTasksCount == 0) and agentConnected == false", inst(), false},
	{"not binds tighter than and", "not runningTasksCount == 0 and agentConnected == true", inst(), true},
	{"not binds tighter than or", "not runningTasksCount == 1 or agentConnected == true", inst(), true},
	{"not of a parenthesised or", "not (runningTasksCount == 1 or agentConnected == false)", inst(), false},
	{"double not", "not not runningTasksCount == 1", inst(), true},
	{"symbolic boolean operators", "!(runningTasksCount == 0) && (agentConnected == false || ec2InstanceId == i-abcd1234)", inst(), true},
	{"! before a word", "!agentConnected == true", inst(), false},
	{"no spaces around operators", "runningTasksCount>=1&&ec2InstanceId=='i-abcd1234'", inst(), true},
	{"extra spaces and newlines", "  attribute:ecs.os-type   ==\n linux\t", inst(), true},
	{"opt-out trick", "attribute:bottlerocket.variant exists and not(attribute:updater.optout exists)", inst(attr("updater.optout", "yes")), false},
	{"keywords are values after an operator", "attribute:empty !in [and, or, not]", inst(), true},
	{"a value may contain the other quote", `attribute:q == "it's"`, inst(attr("q", "it's")), true},
}

func TestMatch(t *testing.T) {
	for _, group := range [][]matchCase{awsExamples, rules} {
		for _, tc := range group {
			t.Run(tc.rule, func(t *testing.T) {
				e, err := Parse(tc.expr)
				if err != nil {
					t.Fatalf("Parse(%q) error: %v", tc.expr, err)
				}
				if got := e.Match(tc.in); got != tc.want {
					t.Errorf("Parse(%q).Match(instance) = %v, want %v", tc.expr, got, tc.want)
				}
				// The canonical form means the same.
				s := fmt.Sprint(e)
				e2, err := Parse(s)
				if err != nil {
					t.Fatalf("Parse(String() = %q) error: %v", s, err)
				}
				if got := e2.Match(tc.in); got != tc.want {
					t.Errorf("Parse(%q).Match(instance) = %v, want %v", s, got, tc.want)
				}
			})
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"not(task:group == database)", "not (task:group == database)"},
		{"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", "ec2InstanceId in [i-abcd1234, i-wxyx7890]"},
		{"attribute:x equals y && attribute:z exists", "attribute:x == y and attribute:z exists"},
		{"attribute:x not_exists", "attribute:x !exists"},
		{"agentConnected == FALSE", "agentConnected == false"},
		{"attribute:x == 'a b'", "attribute:x == 'a b'"},
		{`attribute:x == "it's"`, `attribute:x == "it's"`},
		{"attribute:x == 'and'", "attribute:x == 'and'"},
		{"attribute:x == ''", "attribute:x == ''"},
		{"attribute:x =~ '(a|b)'", "attribute:x =~ '(a|b)'"},
		{"((runningTasksCount == 1))", "runningTasksCount == 1"},
		{"runningTasksCount == 1 or (runningTasksCount == 2 or runningTasksCount == 3)", "runningTasksCount == 1 or runningTasksCount == 2 or runningTasksCount == 3"},
		{"(runningTasksCount == 1 or runningTasksCount == 2) and agentConnected == true", "(runningTasksCount == 1 or runningTasksCount == 2) and agentConnected == true"},
		{"runningTasksCount == 1 and agentConnected == true or runningTasksCount == 0", "runningTasksCount == 1 and agentConnected == true or runningTasksCount == 0"},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tc.expr, err)
			continue
		}
		if got := fmt.Sprint(e); got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr    string
		pos     int    // 1-based position the error points at
		message string // part of the message
	}{
		{"", 1, "expected a subject, found the end of the expression"},
		{"   ", 4, "expected a subject"},
		{"agentConnected", 15, "expected an operator after agentConnected"},
		{"foo == bar", 1, `unknown subject "foo"`},
		{"AgentConnected == true", 1, `unknown subject "AgentConnected"`},
		{"attribute: == x", 1, `invalid attribute name ""`},
		{"attribute:a*b == x", 1, `invalid attribute name "a*b"`},
		{"runningTasksCount = 1", 19, `unknown operator "=" (did you mean "=="?)`},
		{"runningTasksCount => 1", 19, `unknown operator "="`},
		{"runningTasksCount is 1", 19, `expected an operator after runningTasksCount, found "is"`},
		{"runningTasksCount == ", 22, "expected a value after ==, found the end of the expression"},
		{"runningTasksCount == one", 22, `runningTasksCount compares with an integer, not one`},
		{"runningTasksCount in [1]", 19, "operator in is not valid for runningTasksCount (valid: == != > >= < <=)"},
		{"runningTasksCount exists", 19, "operator exists is not valid for runningTasksCount"},
		{"ec2InstanceId > i-1", 15, "operator > is not valid for ec2InstanceId"},
		{"agentConnected == yes", 19, "agentConnected compares with true or false, not yes"},
		{"agentVersion =~ 1.*", 14, "operator =~ is not valid for agentVersion"},
		{"task:group < b", 12, "operator < is not valid for task:group"},
		{"registeredAt < yesterday", 16, "registeredAt compares with a date or time"},
		{"registeredAt < 2018-02-30", 16, "registeredAt compares with a date or time"},
		{"registeredAt < 2018-02-13T10:00:00.5Z", 16, "registeredAt compares with a date or time"},
		{"ec2InstanceId in i-1", 18, `expected a list [a, b, ...] after in, found "i-1"`},
		{"ec2InstanceId in []", 19, `expected a value in the list, found "]"`},
		{"ec2InstanceId in [a b]", 21, `expected , or ] in the list, found "b"`},
		{"ec2InstanceId in [a,", 21, "expected a value in the list, found the end"},
		{"ec2InstanceId == 'i-1", 18, "unterminated string: missing closing '"},
		{`ec2InstanceId == "i-1`, 18, `unterminated string: missing closing "`},
		{"attribute:x =~ '(a'", 16, "invalid regular expression '(a': error parsing regexp: missing closing )"},
		{`attribute:x =~ '(?=a)'`, 16, "invalid regular expression"},
		{`attribute:x =~ '(a)\1'`, 16, "invalid regular expression"},
		{"(runningTasksCount == 1", 24, "expected ) to close the ( at position 1, found the end of the expression"},
		{"runningTasksCount == 1)", 23, `expected and, or or the end of the expression, found ")"`},
		{"runningTasksCount == 1 and", 27, "expected a subject, found the end"},
		{"runningTasksCount == 1 and or agentConnected == true", 28, `expected a subject, found "or"`},
		{"runningTasksCount == 1 runningTasksCount == 2", 24, `expected and, or or the end of the expression, found "runningTasksCount"`},
		{"runningTasksCount == 1 & agentConnected == true", 24, `unexpected '&' (did you mean "&&"?)`},
		{"runningTasksCount == 1 | agentConnected == true", 24, `unexpected '|' (did you mean "||"?)`},
		{"attribute:x ~ y", 13, `unexpected "~"`},
		{"not", 4, "expected a subject, found the end"},
		{"'agentConnected' == true", 1, "expected a subject, found string agentConnected"},
		{"attribute:x exists y", 20, `expected and, or or the end of the expression, found "y"`},
		{strings.Repeat("(", 101) + "runningTasksCount == 1" + strings.Repeat(")", 101), 101, "nested deeper than 100 levels"},
		{strings.Repeat("not ", 101) + "runningTasksCount == 1", 401, "nested deeper than 100 levels"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Offset+1 != tc.pos || !strings.Contains(se.Msg, tc.message) {
			t.Errorf("Parse(%q) error = %q at position %d, want %q at position %d", tc.expr, se.Msg, se.Offset+1, tc.message, tc.pos)
		}
		if want := fmt.Sprintf("at position %d: ", tc.pos); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) error = %q, want prefix %q", tc.expr, err.Error(), want)
		}
	}
}

func TestNestingLimitAllowsMaxDepth(t *testing.T) {
	expr := strings.Repeat("(", maxDepth) + "runningTasksCount == 1" + strings.Repeat(")", maxDepth)
	if _, err := Parse(expr); err != nil {
		t.Errorf("Parse(%d parentheses) error: %v, want nil", maxDepth, err)
	}
}

func TestCompareNatural(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.9.0", "1.14.5", -1},
		{"1.14.5", "1.14.5", 0},
		{"1.14.5", "1.14", 1},
		{"t10", "t2", 1},
		{"a", "b", -1},
		{"", "a", -1},
		{"01", "1", -1}, // equal numbers fall back to byte order
		{"1.14.5-rc1", "1.14.5", 1},
		{"99999999999999999999999", "100000000000000000000000", -1},
	}
	for _, tc := range tests {
		if got := compareNatural(tc.a, tc.b); got != tc.want {
			t.Errorf("compareNatural(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareNatural(tc.b, tc.a); got != -tc.want {
			t.Errorf("compareNatural(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

// fuzzInstances are the instances on which FuzzParse checks that String()
// keeps the meaning.
var fuzzInstances = []*instance{
	inst(),
	inst(disconnected, tasks(0), groups(), version("1.9.0"), id("i-2"), registered("2016-08-04T23:59:59Z"),
		noAttr("bottlerocket.variant"), attr("ecs.instance-type", "g2.2xlarge"), attr("a", "and")),
	inst(tasks(10), groups("database", "service:web"), version("1.100.0"), attr("x", "it's"),
		attr("ecs.availability-zone", "us-east-1d"), registered("2018-02-13T00:00:00Z")),
}

func FuzzParse(f *testing.F) {
	for _, group := range [][]matchCase{awsExamples, rules} {
		for _, tc := range group {
			f.Add(tc.expr)
		}
	}
	f.Add("!exists")
	f.Add("attribute:x !in['a',\"b\"]||!(task:group!~'.*')")
	f.Fuzz(func(t *testing.T, expr string) {
		e, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(expr) {
				t.Fatalf("Parse(%q) error = %#v, want a *SyntaxError inside the expression", expr, err)
			}
			return
		}
		s := fmt.Sprint(e)
		e2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q, which does not parse: %v", expr, s, err)
		}
		if s2 := fmt.Sprint(e2); s2 != s {
			t.Fatalf("Parse(%q).String() = %q, reparsed String() = %q, want the same", expr, s, s2)
		}
		for i, in := range fuzzInstances {
			if got, want := e2.Match(in), e.Match(in); got != want {
				t.Fatalf("Parse(%q).Match(instance %d) = %v, but Parse(%q).Match = %v", s, i, got, expr, want)
			}
		}
	})
}
