package cmd_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
)

// testAppMain is nimbus-testapp, the server the scripts start inside
// sandboxes: "nimbus-testapp PORT" serves 127.0.0.1:PORT with a page
// saying what it received, and a WebSocket echo at /ws.
func testAppMain() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: nimbus-testapp PORT")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// Accept checks that the browser's Origin matches the Host.
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the sandbox: %s %s authorization=%q\n", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"))
	})
	fmt.Println("listening on", os.Args[1])
	srv := &http.Server{Addr: "127.0.0.1:" + os.Args[1], Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// wsEcho sends msg to a WebSocket at url with the page origin and returns
// the reply.
func wsEcho(url, origin, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
	if err != nil {
		return "", err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return "", err
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		return "", err
	}
	c.Close(websocket.StatusNormalClosure, "")
	return string(got), nil
}
