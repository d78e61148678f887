package interactive

import "strings"

// incomplete reports whether src, the lines of a script read so far, ends
// inside a command that sh would keep reading on the next line: an open
// quote ('…', "…", `…`) or expansion ($( ), $(( )), ${ }), a
// here-document whose delimiter has not come, an if/case/for/while/until/
// select block or a { } or ( ) group not yet closed, a function with no
// body yet, or a line ending in &&, || or |. Sent alone, the first line of
// such a command fails with a syntax error and the lines after it run on
// their own (the body of "if false; then" unconditionally, a
// here-document's lines as commands). This is a scanner of the POSIX
// grammar's nesting, not a parser: it never decides what a command
// means, only where it ends, and input it does not follow ends the
// command at the line, as before. It keeps its nesting in a slice, not on
// the Go stack, and reads each byte a bounded number of times, so no input
// makes it slow or deep (BenchmarkIncomplete, TestIncompleteDeep);
// TestIncompleteOracle and FuzzIncomplete hold it to what sh -n says.
func incomplete(src string) bool {
	s := scanner{src: src}
	s.cmd.cmdPos = true
	return s.run()
}

type heredoc struct {
	delim  string
	tabs   bool // <<-: leading tabs are stripped from the body's lines
	quoted bool // a quoted delimiter: the body is literal, no \ newline
}

// What a frame is: what opened it, so what closes it.
const (
	fIf    = 'i' // if … fi
	fLoop  = 'l' // for/select/while/until … done
	fCase  = 'c' // case … esac
	fBrace = '{' // { … }
	fParen = '(' // ( … ) subshell
	fSub   = '$' // $( … )
	fDQ    = '"' // "…"
	fParam = 'p' // ${ … }
	fArith = 'a' // $(( … ))
)

// Where a case frame is.
const (
	caseWord    = iota // after "case": the word
	caseIn             // after the word: "in"
	casePattern        // a pattern may start, or esac
	caseInPat          // inside a pattern, before its ")"
	caseBody           // the commands of an item
)

// Where a for/select is, before its "do".
const (
	forNone = iota
	forName
	forAfterName // "in" or "do" may come
	forList      // the words after "in"
)

// cmdState is what a command level knows of the token before: the top
// level has one, and each $( ) its own, restored at its ")".
type cmdState struct {
	cmdPos   bool   // the next word is in command position (a keyword counts)
	pending  string // the last token leaves the command unfinished: && || | ! ()
	hereNext int    // 1 after "<<", 2 after "<<-": the next word is a delimiter
	redir    bool   // the next word is a redirection's target
	forSt    int
	name     bool // the last token was a command's first word: "(" defines a function
	fdef     bool // after "name(": ")" comes
}

type frame struct {
	kind  byte
	st    int      // a case frame's place
	depth int      // an arithmetic frame's open parentheses
	inDQ  bool     // a ${ } frame inside double quotes: ' is literal there
	saved cmdState // a $( ) frame: the command level around it
}

type scanner struct {
	src      string
	i        int
	stack    []frame
	cmd      cmdState
	heredocs []heredoc
	word     strings.Builder
	quoted   bool // the current word holds a quote, an escape or an expansion
	inWord   bool
}

func (s *scanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

func (s *scanner) topKind() byte {
	if f := s.top(); f != nil {
		return f.kind
	}
	return 0
}

func (s *scanner) push(k byte) { s.stack = append(s.stack, frame{kind: k}) }

func (s *scanner) pop() { s.stack = s.stack[:len(s.stack)-1] }

// lexical reports whether the scanner is inside a quote or an expansion
// other than $( ), where words and operators are not tokens.
func (s *scanner) lexical() bool {
	switch s.topKind() {
	case fDQ, fParam, fArith:
		return true
	}
	return false
}

// endWord handles the word just read: a reserved word in command position
// opens or closes a block.
func (s *scanner) endWord() {
	if !s.inWord {
		return
	}
	w, quoted := s.word.String(), s.quoted
	s.word.Reset()
	s.inWord, s.quoted = false, false
	c := &s.cmd
	c.pending = ""
	c.fdef = false
	first := c.cmdPos
	c.name = false
	if c.hereNext > 0 {
		s.heredocs = append(s.heredocs, heredoc{delim: w, tabs: c.hereNext == 2, quoted: quoted})
		c.hereNext = 0
		return
	}
	if c.redir {
		c.redir = false
		return
	}
	if f := s.top(); f != nil && f.kind == fCase && f.st != caseBody {
		switch f.st {
		case caseWord:
			f.st = caseIn
		case caseIn:
			if w == "in" && !quoted {
				f.st = casePattern
			}
		case casePattern:
			if w == "esac" && !quoted {
				s.pop()
				c.cmdPos = false
				return
			}
			f.st = caseInPat
		}
		return
	}
	switch c.forSt {
	case forName:
		c.forSt = forAfterName
		return
	case forAfterName:
		c.forSt = forList
		if w == "do" && !quoted {
			c.forSt = forNone
			c.cmdPos = true
		}
		return
	case forList:
		return
	}
	if !first || quoted {
		c.cmdPos = false
		c.name = first
		return
	}
	switch w {
	case "if":
		s.push(fIf)
	case "case":
		s.push(fCase)
		c.cmdPos = false
	case "for", "select":
		s.push(fLoop)
		c.forSt = forName
		c.cmdPos = false
	case "while", "until":
		s.push(fLoop)
	case "{":
		s.push(fBrace)
	case "fi", "done", "}", "esac":
		want := map[string]byte{"fi": fIf, "done": fLoop, "}": fBrace, "esac": fCase}[w]
		if f := s.top(); f != nil && f.kind == want && (want != fCase || f.st == caseBody) {
			s.pop()
		}
		c.cmdPos = false
	case "!":
		c.pending = "!"
	case "then", "do", "else", "elif", "in":
	default:
		c.cmdPos = false
		c.name = true
	}
}

func (s *scanner) add(c byte) {
	s.word.WriteByte(c)
	s.inWord = true
}

// expansion opens the $( ), $(( )) or ${ } at s.i, if one is there.
func (s *scanner) expansion() bool {
	rest := s.src[s.i:]
	switch {
	case strings.HasPrefix(rest, "$(("):
		s.push(fArith)
		s.i += 3
		s.inWord, s.quoted = true, true
	case strings.HasPrefix(rest, "$("):
		s.stack = append(s.stack, frame{kind: fSub, saved: s.cmd})
		s.cmd = cmdState{cmdPos: true}
		s.i += 2
		// The words inside are not the word around it (that one is
		// no keyword, which the ")" says): a "#" may start a comment.
		s.word.Reset()
		s.inWord, s.quoted = false, false
	case strings.HasPrefix(rest, "${"):
		s.stack = append(s.stack, frame{kind: fParam, inDQ: s.topKind() == fDQ})
		s.i += 2
		s.inWord, s.quoted = true, true
	default:
		return false
	}
	return true
}

// backquote skips the `…` at s.i, reporting false when it does not end.
func (s *scanner) backquote() bool {
	j := s.i + 1
	for ; j < len(s.src) && s.src[j] != '`'; j++ {
		if s.src[j] == '\\' {
			j++
		}
	}
	if j >= len(s.src) {
		return false
	}
	s.i = j + 1
	return true
}

// run scans the whole input and reports whether it is unfinished.
func (s *scanner) run() bool {
	for s.i < len(s.src) {
		c := s.src[s.i]
		if s.lexical() {
			if !s.inside(c) {
				return true
			}
			continue
		}
		switch {
		case c == '\\':
			if s.i+1 >= len(s.src) {
				return true
			}
			if s.src[s.i+1] != '\n' {
				s.add(s.src[s.i+1])
				s.quoted = true
			}
			s.i += 2
		case c == '\'':
			end := strings.IndexByte(s.src[s.i+1:], '\'')
			if end < 0 {
				return true
			}
			s.word.WriteString(s.src[s.i+1 : s.i+1+end])
			s.inWord, s.quoted = true, true
			s.i += end + 2
		case c == '"':
			s.push(fDQ)
			s.inWord, s.quoted = true, true
			s.i++
		case c == '`':
			if !s.backquote() {
				return true
			}
			s.inWord, s.quoted = true, true
		case c == '$' && s.expansion():
		case c == '#' && !s.inWord:
			nl := strings.IndexByte(s.src[s.i:], '\n')
			if nl < 0 {
				s.i = len(s.src)
			} else {
				s.i += nl
			}
		case c == '\n':
			s.endWord()
			s.i++
			if len(s.heredocs) > 0 && !s.bodies() {
				return true
			}
			s.newline()
		case c == ' ' || c == '\t':
			s.endWord()
			s.i++
		case c == '(' || c == ')' || c == ';' || c == '&' || c == '|' || c == '<' || c == '>':
			s.endWord()
			s.operator()
		default:
			s.add(c)
			s.i++
		}
	}
	s.endWord()
	s.newline() // src ends where a line does
	switch {
	case len(s.heredocs) > 0, len(s.stack) > 0:
		return true
	}
	return s.cmd.pending != ""
}

// newline updates the command level for the newline token just read.
func (s *scanner) newline() {
	c := &s.cmd
	c.hereNext, c.redir, c.name, c.fdef = 0, false, false, false
	if c.forSt == forAfterName || c.forSt == forList {
		c.forSt = forNone
	}
	c.cmdPos = true
	if f := s.top(); f != nil && f.kind == fCase && f.st == caseWord {
		// "case" with no word on its line is a syntax error: the
		// command ends there.
		s.pop()
	}
}

// inside reads one thing at s.i inside "…", ${ } or $(( )), reporting false
// when the input ends in it.
func (s *scanner) inside(c byte) bool {
	f := s.top()
	switch {
	case c == '\\':
		if s.i+1 >= len(s.src) {
			return false
		}
		if f.kind == fDQ && s.src[s.i+1] != '\n' {
			s.word.WriteByte(s.src[s.i+1])
		}
		s.i += 2
	case c == '`':
		if !s.backquote() {
			return false
		}
	case c == '$' && s.expansion():
	case f.kind == fDQ:
		if c == '"' {
			s.pop()
		} else {
			s.word.WriteByte(c)
		}
		s.i++
	case c == '\'' && !f.inDQ:
		end := strings.IndexByte(s.src[s.i+1:], '\'')
		if end < 0 {
			return false
		}
		s.i += end + 2
	case c == '"':
		s.push(fDQ)
		s.i++
	case f.kind == fParam && c == '}':
		s.pop()
		s.i++
	case f.kind == fArith && c == '(':
		f.depth++
		s.i++
	case f.kind == fArith && c == ')':
		switch {
		case f.depth > 0:
			f.depth--
			s.i++
		case strings.HasPrefix(s.src[s.i:], "))"):
			s.pop()
			s.i += 2
		default:
			s.i++
		}
	default:
		s.i++
	}
	return true
}

// operator reads the operator at s.i.
func (s *scanner) operator() {
	rest := s.src[s.i:]
	for _, op := range []string{"<<-", "<<<", ";;&", "&&", "||", ";;", ";&", "|&", "<<", ">>", "<&", ">&", "<>", ">|", "(", ")", ";", "&", "|", "<", ">"} {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		s.i += len(op)
		c := &s.cmd
		name, fdef, redir := c.name, c.fdef, c.redir
		c.pending, c.name, c.fdef, c.redir = "", false, false, false
		f := s.top()
		switch op {
		case "<<":
			c.hereNext = 1
		case "<<-":
			c.hereNext = 2
		case "<<<", ">>", "<&", ">&", "<>", ">|", "<", ">":
			c.redir = true
		case "(":
			switch {
			case f != nil && f.kind == fCase && f.st == casePattern:
				f.st = caseInPat
			case c.cmdPos:
				s.push(fParen)
			case name:
				c.fdef = true
			}
		case ")":
			switch {
			case fdef:
				// name(): the body, a compound command, may
				// follow on a later line.
				c.pending = "()"
				c.cmdPos = true
			case f != nil && f.kind == fCase && (f.st == caseInPat || f.st == casePattern):
				f.st = caseBody
				c.cmdPos = true
			case f != nil && f.kind == fParen:
				s.pop()
				c.cmdPos = false
			case f != nil && f.kind == fSub:
				s.cmd = f.saved
				s.pop()
				s.inWord, s.quoted = true, true
			}
		case ";;", ";&", ";;&":
			if f != nil && f.kind == fCase && f.st == caseBody {
				f.st = casePattern
			}
			c.cmdPos = true
		case "|":
			if f != nil && f.kind == fCase && f.st == caseInPat {
				return
			}
			if !redir { // "> |" is a syntax error, not a pipe
				c.pending = op
			}
			c.cmdPos = true
		case "&&", "||", "|&":
			if !redir {
				c.pending = op
			}
			c.cmdPos = true
		case ";", "&":
			if c.forSt == forAfterName || c.forSt == forList {
				c.forSt = forNone
			}
			c.cmdPos = true
		}
		return
	}
}

// bodies skips the bodies of the here-documents opened on the line just
// ended, reporting false when the input ends before a delimiter.
func (s *scanner) bodies() bool {
	for _, h := range s.heredocs {
		joined := false // the line before ended in a backslash: this one is its end
		for {
			if s.i >= len(s.src) {
				return false
			}
			line := s.src[s.i:]
			nl := strings.IndexByte(line, '\n')
			if nl >= 0 {
				line = line[:nl]
			}
			if h.tabs && !joined {
				line = strings.TrimLeft(line, "\t")
			}
			end := !joined && line == h.delim
			joined = !h.quoted && oddBackslashes(line)
			if nl < 0 {
				s.i = len(s.src)
				if end {
					break
				}
				return false
			}
			s.i += nl + 1
			if end {
				break
			}
		}
	}
	s.heredocs = s.heredocs[:0]
	return true
}

// oddBackslashes reports whether line ends in a backslash that is not
// itself escaped, which joins the next line to it.
func oddBackslashes(line string) bool {
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}
