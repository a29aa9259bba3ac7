package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// parser is a recursive-descent parser over the grammar
//
//	or         = and { ("or" | "||") and }
//	and        = unary { ("and" | "&&") unary }
//	unary      = ("not" | "!") unary | "(" or ")" | comparison
//	comparison = subject operator [ value | "[" value { "," value } "]" ]
type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &SyntaxError{Offset: t.pos, Msg: fmt.Sprintf(format, args...)}
}

func isWord(t token, w string) bool { return t.kind == tWord && t.text == w }

func (p *parser) parseOr() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if o, ok := e.(*orExpr); ok {
			terms = append(terms, o.terms...)
		} else {
			terms = append(terms, e)
		}
		if t := p.peek(); t.kind != tOr && !isWord(t, "or") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &orExpr{terms: terms}, nil
}

func (p *parser) parseAnd() (Expr, error) {
	var terms []Expr
	for {
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if a, ok := e.(*andExpr); ok {
			terms = append(terms, a.terms...)
		} else {
			terms = append(terms, e)
		}
		if t := p.peek(); t.kind != tAnd && !isWord(t, "and") {
			break
		}
		p.next()
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return &andExpr{terms: terms}, nil
}

func (p *parser) parseUnary() (Expr, error) {
	t := p.peek()
	isNot := t.kind == tNot || isWord(t, "not")
	if !isNot && t.kind != tLParen {
		return p.parseComparison()
	}
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf(t, "expression nested deeper than %d levels", maxDepth)
	}
	defer func() { p.depth-- }()
	p.next()
	if isNot {
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if c := p.next(); c.kind != tRParen {
		return nil, p.errorf(c, "expected ) to close the ( at position %d, found %s", t.pos+1, c)
	}
	return e, nil
}

func (p *parser) parseComparison() (Expr, error) {
	st := p.next()
	if st.kind != tWord || st.text == "and" || st.text == "or" {
		return nil, p.errorf(st, "expected a subject, found %s", st)
	}
	subj, err := parseSubject(st.text)
	if err != nil {
		return nil, p.errorf(st, "%v", err)
	}

	ot := p.next()
	op, ok := ot.op, ot.kind == tOp
	if ot.kind == tWord {
		op, ok = wordOperators[ot.text]
	}
	if !ok {
		return nil, p.errorf(ot, "expected an operator after %s, found %s", st.text, ot)
	}
	valid := subj.kind.operators()
	if !slices.Contains(valid, op) {
		names := make([]string, len(valid))
		for i, v := range valid {
			names[i] = v.String()
		}
		return nil, p.errorf(ot, "operator %s is not valid for %s (valid: %s)", ot.text, st.text, strings.Join(names, " "))
	}

	c := &comparison{subj: subj, op: op}
	var argToks []token
	switch op.positive() {
	case opExists:
	case opIn:
		if argToks, err = p.parseList(ot); err != nil {
			return nil, err
		}
	default:
		t := p.next()
		if t.kind != tWord && t.kind != tString {
			return nil, p.errorf(t, "expected a value after %s, found %s", ot.text, t)
		}
		argToks = []token{t}
	}
	for _, t := range argToks {
		if err := c.addArg(t.text); err != nil {
			return nil, p.errorf(t, "%v", err)
		}
	}
	return c, nil
}

// parseList parses "[" value { "," value } "]" after the operator ot.
func (p *parser) parseList(ot token) ([]token, error) {
	if t := p.next(); t.kind != tLBrack {
		return nil, p.errorf(t, "expected a list [a, b, ...] after %s, found %s", ot.text, t)
	}
	var vals []token
	for {
		t := p.next()
		if t.kind != tWord && t.kind != tString {
			return nil, p.errorf(t, "expected a value in the list, found %s", t)
		}
		vals = append(vals, t)
		switch t := p.next(); t.kind {
		case tComma:
		case tRBrack:
			return vals, nil
		default:
			return nil, p.errorf(t, "expected , or ] in the list, found %s", t)
		}
	}
}

// attributeName matches ECS attribute names (PutAttributes: 1-128 letters,
// digits, hyphens, underscores, periods and slashes).
var attributeName = regexp.MustCompile(`^[A-Za-z0-9_./\\-]{1,128}$`)

func parseSubject(w string) (subject, error) {
	if name, ok := strings.CutPrefix(w, "attribute:"); ok {
		if !attributeName.MatchString(name) {
			return subject{}, fmt.Errorf("invalid attribute name %q: want 1 to 128 letters, digits, '-', '_', '.', '/' or '\\'", name)
		}
		return subject{kind: subjAttribute, name: name}, nil
	}
	for k, n := range subjectNames {
		if n == w && k != subjAttribute {
			return subject{kind: k}, nil
		}
	}
	return subject{}, fmt.Errorf("unknown subject %q (want agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount or task:group)", w)
}

// addArg converts and appends one argument, checking it suits the subject
// and operator.
func (c *comparison) addArg(v string) error {
	if c.op.positive() == opMatches {
		re, err := regexp.Compile(v)
		if err != nil {
			return fmt.Errorf("invalid regular expression %s: %w", quote(v), err)
		}
		// v compiles on its own, so wrapping it cannot change its grouping.
		c.re = regexp.MustCompile(`^(?:` + re.String() + `)$`)
		c.args = append(c.args, v)
		return nil
	}
	switch c.subj.kind {
	case subjAgentConnected:
		// Java's Boolean.parseBoolean ignores case; unlike it, anything
		// but true or false is an error rather than false.
		lv := strings.ToLower(v)
		if lv != "true" && lv != "false" {
			return fmt.Errorf("agentConnected compares with true or false, not %s", quote(v))
		}
		v = lv
	case subjRunningTasksCount:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("runningTasksCount compares with an integer, not %s", quote(v))
		}
		c.count = n
	case subjRegisteredAt:
		t, err := parseInstant(v)
		if err != nil {
			return err
		}
		c.at = t
	}
	c.args = append(c.args, v)
	return nil
}
