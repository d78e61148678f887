package interactive

import "strings"

// incomplete reports whether src, the lines of a script read so far, ends
// inside a command that sh would keep reading on the next line: an open
// quote ('…', "…", `…`), a here-document whose delimiter has not come, an
// if/case/for/while/until/select block or a { } or ( ) group not yet
// closed, or a line ending in &&, || or |. Sent alone, the first line of
// such a command fails with a syntax error and the lines after it run on
// their own (the body of "if false; then" unconditionally, a
// here-document's lines as commands). This is a scanner of the POSIX
// grammar's nesting, not a parser: it never decides what a command
// means, only where it ends, and input it does not follow ends the
// command at the line, as before.
func incomplete(src string) bool {
	sc := scanner{src: src, cmdPos: true}
	return sc.run()
}

type heredoc struct {
	delim string
	tabs  bool // <<-: leading tabs are stripped from the body's lines
}

type scanner struct {
	src      string
	i        int
	stack    []string // the closers awaited: "fi", "esac", "done", "}", ")"
	cmdPos   bool     // the next word is in command position (a keyword counts)
	lastOp   string   // the last token, when it was an operator
	heredocs []heredoc
	word     strings.Builder
	quoted   bool // the current word holds a quote or an escape
	inWord   bool
	hereNext int // 1 after "<<", 2 after "<<-": the next word is a delimiter
}

func (s *scanner) top() string {
	if len(s.stack) == 0 {
		return ""
	}
	return s.stack[len(s.stack)-1]
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
	s.lastOp = ""
	if s.hereNext > 0 {
		s.heredocs = append(s.heredocs, heredoc{delim: w, tabs: s.hereNext == 2})
		s.hereNext = 0
		return
	}
	if !s.cmdPos || quoted {
		return
	}
	switch w {
	case "if":
		s.stack = append(s.stack, "fi")
	case "case":
		s.stack = append(s.stack, "esac")
		s.cmdPos = false
		return
	case "for", "select":
		s.stack = append(s.stack, "done")
		s.cmdPos = false
		return
	case "while", "until":
		s.stack = append(s.stack, "done")
	case "{":
		s.stack = append(s.stack, "}")
	case "fi", "esac", "done", "}":
		if s.top() == w {
			s.stack = s.stack[:len(s.stack)-1]
		}
		s.cmdPos = false
		return
	case "then", "do", "else", "elif", "!", "in":
	default:
		s.cmdPos = false
	}
}

func (s *scanner) add(c byte) {
	s.word.WriteByte(c)
	s.inWord = true
}

// run scans the whole input and reports whether it is unfinished.
func (s *scanner) run() bool {
	for s.i < len(s.src) {
		c := s.src[s.i]
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
		case c == '"' || c == '`':
			j := s.i + 1
			for ; j < len(s.src) && s.src[j] != c; j++ {
				if s.src[j] == '\\' {
					j++
				}
			}
			if j >= len(s.src) {
				return true
			}
			s.word.WriteString(s.src[s.i+1 : j])
			s.inWord, s.quoted = true, true
			s.i = j + 1
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
			if s.lastOp == "" || s.lastOp == ";" || s.lastOp == "&" {
				s.cmdPos = true
			}
		case c == ' ' || c == '\t':
			s.endWord()
			s.i++
		case c == '$' && s.i+1 < len(s.src) && s.src[s.i+1] == '(':
			s.add('$')
			s.stack = append(s.stack, ")")
			s.i += 2
			s.cmdPos = true
		case c == '(' || c == ')' || c == ';' || c == '&' || c == '|' || c == '<' || c == '>':
			s.endWord()
			s.operator()
		default:
			s.add(c)
			s.i++
		}
	}
	s.endWord()
	switch {
	case len(s.heredocs) > 0, len(s.stack) > 0:
		return true
	}
	return s.lastOp == "&&" || s.lastOp == "||" || s.lastOp == "|"
}

// operator reads the operator at s.i.
func (s *scanner) operator() {
	rest := s.src[s.i:]
	for _, op := range []string{"<<-", "<<<", "&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|", "(", ")", ";", "&", "|", "<", ">"} {
		if !strings.HasPrefix(rest, op) {
			continue
		}
		s.i += len(op)
		s.lastOp = op
		switch op {
		case "<<":
			s.hereNext = 1
		case "<<-":
			s.hereNext = 2
		case "(":
			s.stack = append(s.stack, ")")
			s.cmdPos = true
		case ")":
			// In a case block an unmatched ")" ends a pattern. A command
			// may follow either: a pattern's, or the body of "f()".
			if s.top() == ")" {
				s.stack = s.stack[:len(s.stack)-1]
			}
			s.cmdPos = true
			s.lastOp = ""
		case ";", ";;", "&", "&&", "||", "|":
			s.cmdPos = true
		}
		return
	}
}

// bodies skips the bodies of the here-documents opened on the line just
// ended, reporting false when the input ends before a delimiter.
func (s *scanner) bodies() bool {
	for _, h := range s.heredocs {
		for {
			if s.i >= len(s.src) {
				return false
			}
			line := s.src[s.i:]
			nl := strings.IndexByte(line, '\n')
			if nl >= 0 {
				line = line[:nl]
			}
			if h.tabs {
				line = strings.TrimLeft(line, "\t")
			}
			if nl < 0 {
				s.i = len(s.src)
				if line == h.delim {
					break
				}
				return false
			}
			s.i += nl + 1
			if line == h.delim {
				break
			}
		}
	}
	s.heredocs = s.heredocs[:0]
	return true
}
