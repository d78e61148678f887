package paths

import "strings"

// FileName is the name of the file nimbus keeps for name (a sandbox id or
// a Worker name, [A-Za-z0-9._-]) on goos. Such names are valid ids yet not
// all of them are distinct file names everywhere: on Windows "con", "nul",
// "aux", "com1" or "lpt1" (with any extension: "con.jwt-secret") open a
// device, so a history or a generated secret would go to the console or
// nowhere; names that differ only in case ("Job", "job") are one file; and
// a trailing dot is dropped ("a." is "a"). "." and ".." name directories
// on every system. The mapping keeps every other name as it is (on
// Windows, every lowercase name that is no device), so the files of most
// existing users stay where they are; on Windows the file of a name with
// capitals moves. It is reversible, so two names never share a file: on
// Windows an uppercase letter is written '+'
// and its lowercase ("Job" is "+job"), and a '+' is added after a device
// name's stem ("con+", "nul+.txt") and after a trailing dot ("a.+", also
// ".+" and "..+" everywhere). Reading back, '+' before a lowercase letter
// makes it uppercase and any other '+' is dropped; ids never hold '+'.
func FileName(goos, name string) string {
	if name == "." || name == ".." {
		return name + "+"
	}
	if goos != "windows" {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('+')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	s := b.String()
	if stem, ext, found := strings.Cut(s, "."); windowsDevice(stem) {
		s = stem + "+"
		if found {
			s += "." + ext
		}
	}
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, " ") {
		s += "+"
	}
	return s
}

// windowsDevice reports whether stem (a name without its extension) is a
// name Windows keeps for a device, whatever its case: CON, PRN, AUX, NUL,
// and COM or LPT with a digit (0 included, which Windows documents as
// reserved too).
func windowsDevice(stem string) bool {
	switch strings.ToLower(stem) {
	case "con", "prn", "aux", "nul", "conin$", "conout$":
		return true
	}
	if len(stem) != 4 {
		return false
	}
	switch strings.ToLower(stem[:3]) {
	case "com", "lpt":
		return stem[3] >= '0' && stem[3] <= '9'
	}
	return false
}
