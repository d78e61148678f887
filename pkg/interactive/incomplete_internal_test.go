package interactive

import "testing"

// incomplete reports whether src, whole, ends inside a command (see
// scanner).
func incomplete(src string) bool {
	var s scanner
	s.reset()
	return s.line(src)
}

// TestIncomplete: where sh would keep reading a command on the next line.
func TestIncomplete(t *testing.T) {
	for src, want := range map[string]bool{
		"echo hi":                            false,
		"echo hi \\":                         true,
		"echo 'a":                            true,
		"echo \"a\\\"":                       true,
		"echo `a":                            true,
		"echo \"a\nb\"":                      false,
		"if true; then":                      true,
		"if true; then echo; fi":             false,
		"echo if then":                       false,
		"echo fi":                            false,
		"for i in 1 2; do\necho":             true,
		"for i in 1 2; do echo; done":        false,
		"while :; do :; done":                false,
		"case x in\nx) echo;;":               true,
		"case x in\nx) echo;;\nesac":         false,
		"{\necho":                            true,
		"{ echo; }":                          false,
		"(\necho":                            true,
		"(echo)":                             false,
		"f() {\necho":                        true,
		"f() {\necho\n}":                     false,
		"echo $(pwd":                         true,
		"echo $((1 + 2))":                    false,
		"echo ${x}":                          false,
		"true &&":                            true,
		"true ||":                            true,
		"echo |":                             true,
		"echo &":                             false,
		"cat <<EOF":                          true,
		"cat <<EOF\nbody":                    true,
		"cat <<EOF\nbody\nEOF":               false,
		"cat <<-'END'\n\tbody\n\tEND":        false,
		"cat <<<word":                        false,
		"# a comment \\":                     false,
		"echo a # it's fine":                 false,
		"echo a#'b":                          true,
		"echo \\'":                           false,
		"if [ \"$x\" = ')' ]; then echo; fi": false,
	} {
		if got := incomplete(src); got != want {
			t.Errorf("incomplete(%q) = %v, want %v", src, got, want)
		}
	}
}
