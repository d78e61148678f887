package provision_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-sh/nimbus/internal/cftest"
	"github.com/nimbus-sh/nimbus/pkg/provision"
)

func TestObjectPutGet(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(acct, "Acme")
	cf.AddToken(userTok, &cftest.Token{Accounts: []string{acct}})
	cf.AddBucket(acct, bkRT)
	c, err := provision.NewClient(provision.ClientOptions{Token: userTok, BaseURL: cf.BaseURL(), RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "blobs/python-0.29.4/ab12/coreutils/busy box.wasm"
	info, err := c.PutObject(ctx, acct, bkRT, key, []byte("wasm!"), "application/wasm")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != key || info.Size != 5 {
		t.Fatalf("%+v", info)
	}
	data, ct, ok := cf.Object(acct, bkRT, key)
	if !ok || string(data) != "wasm!" || ct != "application/wasm" {
		t.Fatalf("stored %q %q %v", data, ct, ok)
	}
	got, found, err := c.GetObject(ctx, acct, bkRT, key)
	if err != nil || !found || string(got) != "wasm!" {
		t.Fatalf("get: %q %v %v", got, found, err)
	}
	_, found, err = c.GetObject(ctx, acct, bkRT, "catalog/v1.json")
	if err != nil || found {
		t.Fatalf("missing key: found=%v err=%v", found, err)
	}
	if want := "/accounts/" + acct + "/r2/buckets/" + bkRT + "/objects/blobs/python-0.29.4/ab12/coreutils/busy%20box.wasm"; cf.Requests()[0].Path != want {
		t.Fatalf("path %s", cf.Requests()[0].Path)
	}
}

func TestObjectErrors(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(acct, "Acme")
	cf.AddToken("ro", &cftest.Token{Accounts: []string{acct}, Denied: []string{cftest.PermR2Write}})
	cf.AddBucket(acct, bkRT)
	c, _ := provision.NewClient(provision.ClientOptions{Token: "ro", BaseURL: cf.BaseURL(), RetryBackoff: time.Millisecond})
	ctx := context.Background()
	_, err := c.PutObject(ctx, acct, bkRT, "k", []byte("x"), "")
	if pe, ok := provision.AsError(err); !ok || pe.Kind != provision.KindPermission || pe.Permission != "Workers R2 Storage Write" {
		t.Fatalf("put without permission: %v", err)
	}
	for _, key := range []string{"", "/abs", "a/../b", "a//b"} {
		if _, err := c.PutObject(ctx, acct, bkRT, key, nil, ""); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	_, _, err = c.GetObject(ctx, acct, "no-such-bucket", "k")
	if pe, ok := provision.AsError(err); !ok || pe.Code != provision.CodeAPI || pe.CloudflareCode != 10006 {
		t.Fatalf("missing bucket: %v", err)
	}
	if len(cf.Requests()) != 2 {
		t.Fatalf("invalid keys reached the API:\n%s", cf.Summary())
	}
}

func TestNewClientRejectsBadOptions(t *testing.T) {
	for _, o := range []provision.ClientOptions{
		{Token: ""},
		{Token: "a\nb"},
		{Token: "t", BaseURL: "ftp://x"},
		{Token: "t", BaseURL: "::"},
		// The token is never sent in clear text off this machine.
		{Token: "t", BaseURL: "http://api.cloudflare.com/client/v4"},
		{Token: "t", BaseURL: "http://10.0.0.1:8080/client/v4"},
		{Token: "t", BaseURL: "http://localhost.example.com/client/v4"},
	} {
		if _, err := provision.NewClient(o); err == nil {
			t.Errorf("%+v accepted", o.BaseURL)
		}
	}
	// No token at all is missing configuration (78), E_CONFIG_MISSING as
	// for any other missing setting; it was E_CF_TOKEN_INVALID, the code
	// of a token Cloudflare rejected.
	for _, tok := range []string{"", " ", "\n"} {
		_, err := provision.NewClient(provision.ClientOptions{Token: tok})
		pe, ok := provision.AsError(err)
		if !ok || pe.Code != "E_CONFIG_MISSING" || pe.ExitCode() != 78 || !strings.Contains(pe.Hint, "CLOUDFLARE_API_TOKEN") {
			t.Errorf("token %q: %v (%+v)", tok, err, pe)
		}
	}
	for _, base := range []string{"https://api.cloudflare.com/client/v4", "http://127.0.0.1:8787/client/v4", "http://[::1]:1/", "http://localhost:1/", "http://LOCALHOST./"} {
		if _, err := provision.NewClient(provision.ClientOptions{Token: "t", BaseURL: base}); err != nil {
			t.Errorf("%s refused: %v", base, err)
		}
	}
	// What $(cat file) leaves of a CRLF or BOM file, or a paste with a
	// space: refused before any request, naming both places a token comes
	// from (Cloudflare would answer with a confusing header error).
	for _, tok := range []string{"tok\r", " tok", "tok ", "\ufefftok", "tok\tx"} {
		_, err := provision.NewClient(provision.ClientOptions{Token: tok})
		pe, ok := provision.AsError(err)
		if !ok || pe.Code != provision.CodeTokenInvalid || !strings.Contains(pe.Hint, "CLOUDFLARE_API_TOKEN") || !strings.Contains(pe.Hint, "--api-token-file") {
			t.Errorf("token %q: %v (%+v)", tok, err, pe)
		}
		if ok && strings.Contains(pe.Message+pe.Hint, "tok") && !strings.Contains(pe.Message+pe.Hint, "token") {
			t.Errorf("token %q printed: %v", tok, err)
		}
	}
}

func newObjClient(t *testing.T, cf *cftest.Server, tok string) *provision.Client {
	t.Helper()
	c, err := provision.NewClient(provision.ClientOptions{Token: tok, BaseURL: cf.BaseURL(), RetryBackoff: time.Millisecond, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListObjectsFollowsCursor(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(acct, "Acme")
	cf.AddToken(userTok, &cftest.Token{Accounts: []string{acct}})
	cf.AddBucket(acct, bkRT)
	cf.ListLimit = 2
	var want []string
	for i := 0; i < 5; i++ {
		k := fmt.Sprintf("blobs/x-1/%02d/f", i)
		cf.PutObject(acct, bkRT, k, bytes.Repeat([]byte("a"), i), "")
		want = append(want, k)
	}
	cf.PutObject(acct, bkRT, "manifests/x-1.json", []byte("{}"), "application/json")
	c := newObjClient(t, cf, userTok)
	var got []string
	sizes := map[string]int64{}
	err := c.ListObjects(context.Background(), acct, bkRT, "blobs/", func(o provision.ObjectInfo) error {
		got = append(got, o.Key)
		sizes[o.Key] = o.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if sizes[want[4]] != 4 {
		t.Fatalf("size decoded from a string: %v", sizes)
	}
	if n := len(cf.Requests()); n != 3 {
		t.Fatalf("%d list requests for 5 objects in pages of 2, want 3:\n%s", n, cf.Summary())
	}
	for _, r := range cf.Requests() {
		if !strings.Contains(r.Query, "per_page=1000") || !strings.Contains(r.Query, "prefix=blobs%2F") {
			t.Fatalf("query %q", r.Query)
		}
	}
	// A missing bucket and R2 not enabled are errors, not empty listings.
	err = c.ListObjects(context.Background(), acct, "no-such-bucket", "", func(provision.ObjectInfo) error { return nil })
	if pe, ok := provision.AsError(err); !ok || pe.CloudflareCode != 10006 {
		t.Fatalf("missing bucket: %v", err)
	}
	cf.DisableR2(acct)
	err = c.ListObjects(context.Background(), acct, bkRT, "", func(provision.ObjectInfo) error { return nil })
	if pe, ok := provision.AsError(err); !ok || pe.Code != provision.CodeR2NotEnabled || pe.Kind != provision.KindConfig {
		t.Fatalf("R2 disabled: %v", err)
	}
}

type countingBody struct {
	data  []byte
	opens int
}

func (b *countingBody) Size() int64 { return int64(len(b.data)) }
func (b *countingBody) Open() (io.ReadCloser, error) {
	b.opens++
	return io.NopCloser(bytes.NewReader(b.data)), nil
}

func TestPutObjectFromStreamsAndRetries(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(acct, "Acme")
	cf.AddToken(userTok, &cftest.Token{Accounts: []string{acct}})
	cf.AddBucket(acct, bkRT)
	cf.AddFault(cftest.Fault{Method: "PUT", PathSuffix: "/blob.wasm", Status: 500, Code: 10001, Message: "boom", Times: 1})
	c := newObjClient(t, cf, userTok)
	body := &countingBody{data: bytes.Repeat([]byte("wasm"), 100000)}
	info, err := c.PutObjectFrom(context.Background(), acct, bkRT, "blobs/x/blob.wasm", body, "")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(body.data)) || body.opens != 2 {
		t.Fatalf("info %+v, body opened %d times (want 2: first try and retry)", info, body.opens)
	}
	data, ct, _ := cf.Object(acct, bkRT, "blobs/x/blob.wasm")
	if !bytes.Equal(data, body.data) || ct != "" {
		t.Fatalf("stored %d bytes with content type %q; want the body and no content type", len(data), ct)
	}
	last := cf.Requests()[len(cf.Requests())-1]
	if last.Header.Get("Content-Length") != fmt.Sprint(len(body.data)) && last.Size != int64(len(body.data)) {
		t.Fatalf("upload not sent with its length: %+v", last.Header)
	}
	_, err = c.PutObjectFrom(context.Background(), acct, bkRT, "big", &countingBody{data: nil}, "")
	if err != nil {
		t.Fatalf("empty object: %v", err)
	}
}

func TestResolveAccountID(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	cf.AddAccount(acct, "Acme")
	cf.AddAccount("fedcba9876543210fedcba9876543210", "Other")
	cf.AddToken(userTok, &cftest.Token{Accounts: []string{acct}})
	cf.AddToken("two", &cftest.Token{Accounts: []string{acct, "fedcba9876543210fedcba9876543210"}})
	ctx := context.Background()
	if id, err := newObjClient(t, cf, userTok).ResolveAccountID(ctx, ""); err != nil || id != acct {
		t.Fatalf("only account: %q %v", id, err)
	}
	if _, err := newObjClient(t, cf, "two").ResolveAccountID(ctx, ""); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("two accounts: %v", err)
	}
	if _, err := newObjClient(t, cf, userTok).ResolveAccountID(ctx, "nope"); err == nil {
		t.Fatal("malformed id accepted")
	}
	// An account the token cannot access is named as such, not as a missing permission.
	_, _, err := newObjClient(t, cf, userTok).GetObject(ctx, "fedcba9876543210fedcba9876543210", bkRT, "k")
	if pe, ok := provision.AsError(err); !ok || pe.Code != provision.CodeAccountNotFound {
		t.Fatalf("foreign account: %v", err)
	}
}

// TestInvalidAccountIDIsOneError: a malformed account id is the same
// configuration error (78, with its hint) wherever it is caught: in a plan,
// when resolving the account, or in an object call, before any request.
func TestInvalidAccountIDIsOneError(t *testing.T) {
	cf := cftest.New()
	defer cf.Close()
	c, err := provision.NewClient(provision.ClientOptions{Token: userTok, BaseURL: cf.BaseURL(), RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err1 := c.ResolveAccountID(ctx, "not-an-id")
	_, _, err2 := c.GetObject(ctx, "not-an-id", bkRT, "k")
	_, err3 := c.PutObject(ctx, "not-an-id", bkRT, "k", []byte("x"), "text/plain")
	err4 := c.ListObjects(ctx, "not-an-id", bkRT, "", func(provision.ObjectInfo) error { return nil })
	err5 := provision.Plan{Worker: "w", AccountID: "not-an-id"}.Validate()
	for i, err := range []error{err1, err2, err3, err4, err5} {
		e, ok := provision.AsError(err)
		if !ok || e.Code != provision.CodeAccountInvalid || e.ExitCode() != 78 || e.Hint == "" || e.Message != `invalid Cloudflare account id "not-an-id"` {
			t.Errorf("call %d: %#v", i+1, err)
		}
	}
	if r := cf.Requests(); len(r) != 0 {
		t.Fatalf("%d requests were made", len(r))
	}
}
