// Package query implements the Amazon ECS cluster query language, which the
// fleet simulator uses to answer ListContainerInstances calls that carry a
// filter.
//
// An expression is a comparison
//
//	subject operator [argument]
//
// or a compound of comparisons built with and (&&), or (||), not (!) and
// parentheses, for example
//
//	attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d
//	not(task:group == database)
//	ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']
//
// Subjects, and the operators AWS documents as valid for each:
//
//	agentConnected        == != in !in =~ !~    argument true or false (any case)
//	agentVersion          == != > >= < <=
//	attribute:<name>      every operator        absent attribute: see below
//	ec2InstanceId         == != in !in =~ !~
//	registeredAt          == != > >= < <=       argument a date or time, see below
//	runningTasksCount     == != > >= < <=       argument a decimal integer
//	task:group            == != in !in =~ !~ exists !exists
//
// Operators are written either as symbols or as words: == equals, !=
// not_equals, > greater_than, >= greater_than_equal, < less_than, <=
// less_than_equal, exists, !exists not_exists, in, !in not_in, =~ matches, !~
// not_matches. in and !in take a list [a, b, ...]; exists and !exists take no
// argument; every other operator takes one value. A value is a bare word or a
// string quoted with ' or " (no escapes; a string ends at the next matching
// quote, and a pair of quotes with nothing between them is the empty
// string). A bare word ends at white space or at
// any of ( ) [ ] , ' " = ! < > ~ & |, so a regular expression that needs one
// of those characters must be quoted. Keywords and subject names are
// case-sensitive and lower camel case, as AWS writes them.
//
// Semantics, where AWS's documentation is silent the choice is marked (*):
//
//   - Precedence (*): not binds tighter than and, which binds tighter than or;
//     and and or are associative, parentheses group.
//   - Each negated operator is exactly the negation of its positive one (*):
//     "s != v" means "not (s == v)", likewise !in, !~ and !exists. So a
//     comparison on an absent attribute is false for ==, in, =~ and the
//     ordering operators, and true for !=, !in and !~.
//   - task:group (*) compares the groups of the tasks on the instance: a
//     positive operator matches when any group satisfies it, exists matches
//     an instance with at least one grouped task, so "task:group != database"
//     is the anti-affinity "not (task:group == database)".
//   - == and in compare strings exactly. The ordering operators on
//     agentVersion and attributes (*) compare in natural order: runs of
//     digits compare as numbers and everything else byte by byte, so
//     1.9.0 < 1.14.5 and t2 < t10 without requiring semantic versions
//     (unlike semver, 1.14.5-rc1 sorts after 1.14.5).
//   - runningTasksCount compares as an integer.
//   - registeredAt accepts the formats AWS lists: 2018-06-18T22:28:28+00:00,
//     2018-06-18T22:28:28Z, 2018-06-18T22:28:28 (UTC) and 2018-06-18 (a UTC
//     day). The instance's registration time is compared at the precision
//     of the argument (*): a date compares the UTC day, so
//     "registeredAt == 2018-02-13" matches the whole day and
//     "registeredAt < 2018-02-13" means before that day; a time compares to
//     the second.
//   - =~ and !~ match the whole value, like Java's Pattern.matches (AWS
//     specifies Java regular expressions). Patterns are compiled with Go's
//     regexp (RE2), which differs from java.util.regex: it has no
//     backreferences (\1), lookaround ((?=, (?!, (?<=, (?<!), possessive
//     (a*+) or atomic ((?>) groups, \Z, \G or Java's \p{javaXxx} classes; it
//     rejects such a pattern with a parse error instead of guessing. Its
//     syntax is otherwise close enough for the patterns people write for
//     instance types, zones and versions.
//   - Nesting of parentheses and not is limited to 100 levels.
package query

import (
	"fmt"
	"time"
)

// Subject is a container instance as the query language sees it.
type Subject interface {
	// Attribute returns the value of the named attribute; ok is false when
	// the instance does not have it. A present attribute may have an empty
	// value.
	Attribute(name string) (value string, ok bool)
	EC2InstanceID() string
	RunningTasksCount() int
	AgentConnected() bool
	AgentVersion() string
	RegisteredAt() time.Time
	// TaskGroups returns the groups of the tasks on the instance, for
	// task:group.
	TaskGroups() []string
}

// Expr is a parsed expression. Match is safe for concurrent use. Every Expr
// returned by Parse also implements fmt.Stringer: String returns a canonical
// form that Parse accepts and that means the same.
type Expr interface {
	Match(s Subject) bool
}

// SyntaxError reports why an expression is not valid and where.
type SyntaxError struct {
	Offset int    // byte offset in the expression where the problem starts
	Msg    string // what is wrong
}

// Error returns the message with a 1-based position, e.g.
// `at position 18: unknown operator "=" (did you mean "=="?)`.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("at position %d: %s", e.Offset+1, e.Msg)
}

// maxDepth bounds nesting so that a hostile filter cannot exhaust the stack.
const maxDepth = 100

// Parse parses a cluster query language expression. A non-nil error is a
// *SyntaxError.
func Parse(expr string) (Expr, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "expected and, or or the end of the expression, found %s", t)
	}
	return e, nil
}
