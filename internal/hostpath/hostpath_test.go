package hostpath

import (
	"runtime"
	"strings"
	"testing"
)

// TestJoin: a path written on Windows (its rules applied here on any
// system) read from a directory. filepath.IsAbs then filepath.Join, the
// rule before, made "C:app" "D:\work\C:app" and "\app" "D:\work\app".
func TestJoin(t *testing.T) {
	for _, c := range []struct{ goos, base, p, want string }{
		{"windows", `D:\work`, `C:app`, `C:app`},
		{"windows", `C:\work`, `C:app`, `C:\work\app`},
		{"windows", `C:\work`, `c:app`, `C:\work\app`},
		{"windows", `C:\work\`, `C:app`, `C:\work\app`},
		{"windows", `C:\work`, `C:`, `C:\work`},
		{"windows", `D:\work`, `\app`, `D:\app`},
		{"windows", `D:\work`, `/app`, `D:/app`},
		{"windows", `\\host\share\work`, `\app`, `\\host\share\app`},
		{"windows", `D:\work`, `C:\app`, `C:\app`},
		{"windows", `D:\work`, `C:/app`, `C:/app`},
		{"windows", `D:\work`, `\\host\share\app`, `\\host\share\app`},
		{"windows", `D:\work`, `//host/share`, `//host/share`},
		{"windows", `D:\work`, `app\x`, `D:\work\app\x`},
		{"windows", `D:\work`, `app/x`, `D:\work\app/x`},
		{"linux", "/work", "app", "/work/app"},
		{"linux", "/work", "/app", "/app"},
		{"linux", "/work", `C:app`, "/work/C:app"},
		{"linux", "/work", `\app`, `/work/\app`},
	} {
		got, want := Join(c.goos, c.base, c.p), c.want
		if c.goos == "windows" && runtime.GOOS == "windows" {
			// Cleaned there, with '\' for '/'.
			got, want = strings.ReplaceAll(got, "/", `\`), strings.ReplaceAll(want, "/", `\`)
		}
		if got != want {
			t.Errorf("Join(%s, %q, %q) = %q, want %q", c.goos, c.base, c.p, got, c.want)
		}
	}
}
