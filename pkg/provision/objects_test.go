package provision_test

import (
	"context"
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
	} {
		if _, err := provision.NewClient(o); err == nil {
			t.Errorf("%+v accepted", o.BaseURL)
		}
	}
}
