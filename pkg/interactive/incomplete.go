package interactive

import "strings"

// A lineJoiner tells, line by line, whether a script's command goes on
// (incomplete, with the lines before). Its scanner keeps its state from
// line to line instead of reading the command again, so a command of n
// lines, a long here-document say, costs O(n), not O(n²).
type lineJoiner struct {
	s       scanner
	started bool
}

// opens reports whether the command that line ends, or goes on, is
// unfinished. A comment line that starts a command ends at its newline
// even when it ends with a backslash, as sh reads it ("# see C:\"): joined
// to the next line it would make that line part of the comment, and the
// line would silently not run.
func (j *lineJoiner) opens(line string) bool {
	if !j.started {
		if skippable(line) {
			return false
		}
		j.s.reset()
		j.started = true
	}
	return j.s.line(line)
}

// end forgets the command read so far: the next line starts one.
func (j *lineJoiner) end() { j.started = false }

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
	fSQ    = 'q' // '…'
	fBQ    = '`' // `…`
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
	cmdPos   bool  // the next word is in command position (a keyword counts)
	pending  bool  // the last token leaves the command unfinished: && || | ! ()
	redir    bool  // the next word is a redirection's target
	name     bool  // the last token was a command's first word: "(" defines a function
	fdef     bool  // after "name(": ")" comes
	hereNext uint8 // 1 after "<<", 2 after "<<-": the next word is a delimiter
	forSt    uint8
}

// A frame is small (a megabyte of "(" is a million of them); a $( )
// keeps the command level around it in scanner.saved.
type frame struct {
	kind  byte
	inDQ  bool  // a ${ } frame inside double quotes: ' is literal there
	st    uint8 // a case frame's place
	depth int32 // an arithmetic frame's open parentheses
}

// A scanner reports whether the lines of a script read so far end
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
type scanner struct {
	src      string // the text being read: one line and its newline
	i        int
	stack    []frame
	saved    []cmdState
	cmd      cmdState
	heredocs []heredoc // awaiting their bodies, first first
	inBody   bool      // reading here-document bodies
	joined   bool      // in a body: the line before ended in a backslash
	cont     bool      // the text read ended in a backslash-newline
	word     []byte    // the word being read, for keywords and delimiters
	quoted   bool      // the current word holds a quote, an escape or an expansion
	inWord   bool
}

// reset readies s for a new command.
func (s *scanner) reset() {
	*s = scanner{stack: s.stack[:0], saved: s.saved[:0], word: s.word[:0]}
	s.cmd.cmdPos = true
}

// line reads line and the newline that ends it, and reports whether the
// command is unfinished.
func (s *scanner) line(line string) bool {
	s.src, s.i, s.cont = line+"\n", 0, false
	s.run()
	s.src, s.i = "", 0
	return len(s.heredocs) > 0 || len(s.stack) > 0 || s.cmd.pending || s.cont
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
	case fDQ, fParam, fArith, fSQ, fBQ:
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
	w, quoted := s.word, s.quoted
	s.word = s.word[:0]
	s.inWord, s.quoted = false, false
	c := &s.cmd
	c.pending = false
	c.fdef = false
	first := c.cmdPos
	c.name = false
	if c.hereNext > 0 {
		s.heredocs = append(s.heredocs, heredoc{delim: string(w), tabs: c.hereNext == 2, quoted: quoted})
		c.hereNext = 0
		return
	}
	if c.redir {
		// A redirection starts the simple command: no reserved word
		// follows it (">f while" runs a command named while).
		c.redir = false
		c.cmdPos = false
		return
	}
	if f := s.top(); f != nil && f.kind == fCase && f.st != caseBody {
		switch f.st {
		case caseWord:
			f.st = caseIn
		case caseIn:
			if string(w) == "in" && !quoted {
				f.st = casePattern
			}
		case casePattern:
			if string(w) == "esac" && !quoted {
				s.pop()
				c.cmdPos = true // see below
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
		if string(w) == "do" && !quoted {
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
	switch string(w) {
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
		want := closes(string(w))
		if f := s.top(); f != nil && f.kind == want && (want != fCase || f.st == caseBody) {
			s.pop()
		}
		// A compound command may be followed at once by the reserved
		// word that closes the one around it: "if :; then (:) fi fi".
		c.cmdPos = true
	case "!":
		c.pending = true
	case "then", "do", "else", "elif", "in":
	default:
		c.cmdPos = false
		c.name = true
	}
}

// closes is the frame a closing keyword ends.
func closes(w string) byte {
	switch w {
	case "fi":
		return fIf
	case "done":
		return fLoop
	case "}":
		return fBrace
	}
	return fCase
}

func (s *scanner) add(c byte) {
	s.word = append(s.word, c)
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
		s.push(fSub)
		s.saved = append(s.saved, s.cmd)
		s.cmd = cmdState{cmdPos: true}
		s.i += 2
		// The words inside are not the word around it (that one is
		// no keyword, which the ")" says): a "#" may start a comment.
		s.word = s.word[:0]
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

// run reads s.src from s.i to its end.
func (s *scanner) run() {
	for s.i < len(s.src) {
		if s.inBody {
			s.bodies()
			continue
		}
		c := s.src[s.i]
		if s.lexical() {
			s.inside(c)
			continue
		}
		switch {
		case c == '\\':
			s.backslash(true)
		case c == '\'':
			s.push(fSQ)
			s.inWord, s.quoted = true, true
			s.i++
		case c == '"':
			s.push(fDQ)
			s.inWord, s.quoted = true, true
			s.i++
		case c == '`':
			s.push(fBQ)
			s.inWord, s.quoted = true, true
			s.i++
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
			s.newline()
			s.inBody = len(s.heredocs) > 0
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
}

// backslash reads the \ at s.i: a backslash-newline joins two lines,
// any other escapes the byte after it, which a word keeps when keep is set.
func (s *scanner) backslash(keep bool) {
	switch {
	case s.i+1 >= len(s.src):
		s.i++
		return
	case s.src[s.i+1] == '\n':
		s.cont = s.i+2 == len(s.src)
	case keep:
		s.add(s.src[s.i+1])
		s.quoted = true
	}
	s.i += 2
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

// inside reads what is at s.i inside '…', `…`, "…", ${ } or $(( )).
func (s *scanner) inside(c byte) {
	f := s.top()
	switch {
	case f.kind == fSQ:
		end := strings.IndexByte(s.src[s.i:], '\'')
		if end < 0 {
			s.word = append(s.word, s.src[s.i:]...)
			s.i = len(s.src)
			return
		}
		s.word = append(s.word, s.src[s.i:s.i+end]...)
		s.i += end + 1
		s.pop()
	case f.kind == fBQ:
		// Its text is a command read again once it ends; only an
		// unescaped ` ends it.
		end := strings.IndexAny(s.src[s.i:], "\\`")
		switch {
		case end < 0:
			s.i = len(s.src)
		case s.src[s.i+end] == '`':
			s.i += end + 1
			s.pop()
		default:
			s.i += end
			s.backslash(false)
		}
	case c == '\\':
		s.backslash(false)
		if f.kind == fDQ && s.i <= len(s.src) && s.src[s.i-1] != '\n' {
			s.word = append(s.word, s.src[s.i-1])
		}
	case c == '`':
		s.push(fBQ)
		s.i++
	case c == '$' && s.expansion():
	case f.kind == fDQ:
		if c == '"' {
			s.pop()
		} else {
			s.word = append(s.word, c)
		}
		s.i++
	case c == '\'' && !f.inDQ:
		s.push(fSQ)
		s.i++
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
		c.pending, c.name, c.fdef, c.redir = false, false, false, false
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
				c.pending = true
				c.cmdPos = true
			case f != nil && f.kind == fCase && (f.st == caseInPat || f.st == casePattern):
				f.st = caseBody
				c.cmdPos = true
			case f != nil && f.kind == fParen:
				s.pop()
				c.cmdPos = true // "(:)esac", as after fi
			case f != nil && f.kind == fSub:
				s.cmd = s.saved[len(s.saved)-1]
				s.saved = s.saved[:len(s.saved)-1]
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
			c.pending = !redir // "> |" is a syntax error, not a pipe
			c.cmdPos = true
		case "&&", "||", "|&":
			c.pending = !redir
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

// bodies reads a line of the here-document bodies that began at the
// newline after their operators, first to last, until each one's
// delimiter.
func (s *scanner) bodies() {
	h := s.heredocs[0]
	line := s.src[s.i:]
	nl := strings.IndexByte(line, '\n')
	if nl >= 0 {
		line = line[:nl]
		s.i += nl + 1
	} else {
		s.i = len(s.src)
	}
	if h.tabs && !s.joined {
		line = strings.TrimLeft(line, "\t")
	}
	end := !s.joined && line == h.delim
	s.joined = !h.quoted && oddBackslashes(line)
	if end {
		s.heredocs, s.joined = s.heredocs[1:], false
		s.inBody = len(s.heredocs) > 0
	}
}

// oddBackslashes reports whether line ends in a backslash that is not
// itself escaped, which joins the next line to it.
func oddBackslashes(line string) bool {
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}
