package query

import (
	"fmt"
	"strings"
)

type tokenKind int

const (
	tEOF    tokenKind = iota
	tWord             // bare word: subject, keyword or value
	tString           // quoted value; text is unquoted
	tOp               // symbolic comparison operator; op is set
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tAnd // &&
	tOr  // ||
	tNot // !
)

type token struct {
	kind tokenKind
	text string // as written, unquoted for tString
	op   operator
	pos  int // byte offset
}

// String describes the token for error messages.
func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString:
		return fmt.Sprintf("string %s", quote(t.text))
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// isSpace reports whether b separates tokens.
func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// isWordByte reports whether b can be part of a bare word.
func isWordByte(b byte) bool {
	return !isSpace(b) && !strings.ContainsRune(`()[],'"=!<>~&|`, rune(b))
}

// wordEnd returns the offset just past the bare word that starts at i.
func wordEnd(s string, i int) int {
	for i < len(s) && isWordByte(s[i]) {
		i++
	}
	return i
}

func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		start := i
		two := ""
		if i+1 < len(s) {
			two = s[i : i+2]
		}
		emit := func(kind tokenKind, n int, op operator) {
			toks = append(toks, token{kind: kind, text: s[start : start+n], op: op, pos: start})
			i = start + n
		}
		switch c := s[i]; {
		case c == '(':
			emit(tLParen, 1, 0)
		case c == ')':
			emit(tRParen, 1, 0)
		case c == '[':
			emit(tLBrack, 1, 0)
		case c == ']':
			emit(tRBrack, 1, 0)
		case c == ',':
			emit(tComma, 1, 0)
		case two == "&&":
			emit(tAnd, 2, 0)
		case two == "||":
			emit(tOr, 2, 0)
		case two == "==":
			emit(tOp, 2, opEq)
		case two == "=~":
			emit(tOp, 2, opMatches)
		case two == "!=":
			emit(tOp, 2, opNe)
		case two == "!~":
			emit(tOp, 2, opNotMatches)
		case two == ">=":
			emit(tOp, 2, opGe)
		case two == "<=":
			emit(tOp, 2, opLe)
		case c == '>':
			emit(tOp, 1, opGt)
		case c == '<':
			emit(tOp, 1, opLt)
		case c == '!':
			switch s[i+1 : wordEnd(s, i+1)] {
			case "exists":
				emit(tOp, len("!exists"), opNotExists)
			case "in":
				emit(tOp, len("!in"), opNotIn)
			default:
				emit(tNot, 1, 0)
			}
		case c == '\'' || c == '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, &SyntaxError{Offset: start, Msg: fmt.Sprintf("unterminated string: missing closing %c", c)}
			}
			toks = append(toks, token{kind: tString, text: s[i+1 : i+1+end], pos: start})
			i += end + 2
		case c == '=':
			return nil, &SyntaxError{Offset: start, Msg: `unknown operator "=" (did you mean "=="?)`}
		case c == '&' || c == '|':
			return nil, &SyntaxError{Offset: start, Msg: fmt.Sprintf("unexpected %q (did you mean %q?)", c, strings.Repeat(string(c), 2))}
		case c == '~':
			return nil, &SyntaxError{Offset: start, Msg: `unexpected "~" (did you mean "=~" or "!~"?)`}
		default:
			emit(tWord, wordEnd(s, i)-i, 0)
		}
	}
}
