package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/mailscript/mailscript/internal/tlsopt"
	"github.com/mailscript/mailscript/oauth"
)

const loginHelp = `Signs account NAME in with OAuth 2.0 and stores its refresh token in
$XDG_CONFIG_HOME/mailscript/oauth/NAME.json (mode 0600), or hands it to
--token-command. Scripts then connect with
  account.connect{auth = "oauth2", oauth = "NAME"}
The client id (and Google's client secret) come from your own app
registration: mailscript ships none. See the README, "Signing in with OAuth".

  mailscript login work --provider microsoft --client-id ID --user me@example.com
  mailscript login me --provider gmail --client-id ID --client-secret-file secret.txt --user me@gmail.com
  mailscript login --list
  mailscript login --forget work`

// oauthStore is the store under the user's config folder.
func oauthStore() (*oauth.Store, error) {
	dir, err := oauth.DefaultDir()
	if err != nil {
		return nil, err
	}
	return &oauth.Store{Dir: dir}, nil
}

func (c *cli) loginCmd(args []string) int {
	fs := c.flags("login", "NAME", loginHelp, nil)
	provider := fs.String("provider", "", "gmail, microsoft or generic (default: generic when --issuer or --token-url is given)")
	tenant := fs.String("tenant", "", "microsoft: the tenant (common, organizations, consumers or a tenant id; default common)")
	clientID := fs.String("client-id", "", "the OAuth client (application) id of your app registration")
	secretFile := fs.String("client-secret-file", "", "read the client secret from this file (Google desktop apps have one)")
	secretEnv := fs.String("client-secret-env", "", "read the client secret from this environment variable")
	user := fs.String("user", "", "the mailbox's address: the SASL user scripts log in as")
	device := fs.Bool("device", false, "use the device flow: enter a code on any device's browser")
	browser := fs.Bool("browser", false, "use the browser flow with a redirect to 127.0.0.1 (the URL is printed if no browser opens)")
	issuer := fs.String("issuer", "", "generic: find the endpoints by OpenID discovery at this issuer URL")
	authURL := fs.String("auth-url", "", "generic: the authorization endpoint")
	tokenURL := fs.String("token-url", "", "generic: the token endpoint")
	deviceURL := fs.String("device-url", "", "generic: the device authorization endpoint")
	imapHost := fs.String("imap-host", "", "the IMAP server scripts connect to when they name no host (presets know theirs)")
	imapPort := fs.Int("imap-port", 0, "its port (993)")
	var scopes listFlag
	fs.Var(&scopes, "scope", "a scope to ask for (repeatable; replaces the preset's)")
	storeCmd := fs.String("token-command", "", "store the refresh token with this command (it gets the token on stdin), e.g. 'pass insert -m mailscript/NAME'")
	loadCmd := fs.String("token-read-command", "", "with --token-command: the command that prints it, e.g. 'pass show mailscript/NAME'")
	list := fs.Bool("list", false, "list the signed-in accounts")
	forget := fs.String("forget", "", "remove the stored account NAME")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(c.stderr, "mailscript login: "+format+"\n", a...)
		return code
	}
	st, err := oauthStore()
	if err != nil {
		return fail(1, "%v", err)
	}
	switch {
	case *list:
		names, err := st.List()
		if err != nil {
			return fail(1, "%v", err)
		}
		for _, n := range names {
			line := n
			if a, err := st.Load(n); err == nil {
				line = fmt.Sprintf("%s\t%s\t%s", n, a.Provider.Name, a.User)
			}
			fmt.Fprintln(c.stdout, line)
		}
		return 0
	case *forget != "":
		if err := st.Forget(*forget); err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(c.stdout, "forgot %s (revoke the app's access at your provider too)\n", *forget)
		return 0
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	name := fs.Arg(0)
	if err := oauth.CheckName(name); err != nil {
		return fail(2, "%v", err)
	}
	if *clientID == "" {
		return fail(2, "--client-id is required: register an app with your provider (see the README) and give its client id")
	}
	if *device && *browser {
		return fail(2, "--device and --browser: give one")
	}
	if (*storeCmd == "") != (*loadCmd == "") {
		return fail(2, "--token-command and --token-read-command go together")
	}
	ctx, _, stop := signalContext()
	defer stop()

	var p oauth.Provider
	generic := *issuer != "" || *tokenURL != "" || *authURL != "" || *deviceURL != ""
	switch {
	case *provider == "" && !generic:
		return fail(2, "--provider gmail|microsoft, or a generic provider's --issuer (or --auth-url/--token-url/--device-url)")
	case *provider == "generic" || (*provider == "" && generic):
		if *issuer != "" {
			if p, err = oauth.Discover(ctx, nil, *issuer); err != nil {
				return fail(1, "%v", err)
			}
		}
		p.Name = "generic"
	default:
		var ok bool
		if p, ok = oauth.Preset(*provider, *tenant); !ok {
			return fail(2, "--provider %q: want gmail, microsoft or generic", *provider)
		}
	}
	for dst, v := range map[*string]string{&p.AuthURL: *authURL, &p.TokenURL: *tokenURL, &p.DeviceURL: *deviceURL, &p.IMAPHost: *imapHost} {
		if v != "" {
			*dst = v
		}
	}
	if *imapPort > 0 {
		p.IMAPPort = *imapPort
	} else if p.IMAPHost != "" && p.IMAPPort == 0 {
		p.IMAPPort = 993
	}
	if len(scopes) > 0 {
		p.Scopes = scopes
	}
	if err := p.Check(); err != nil {
		return fail(2, "%v", err)
	}
	secret := ""
	switch {
	case *secretFile != "" && *secretEnv != "":
		return fail(2, "--client-secret-file and --client-secret-env: give one")
	case *secretFile != "":
		b, err := tlsopt.ReadPEMFile(*secretFile) // a small regular file
		if err != nil {
			return fail(1, "--client-secret-file: %v", err)
		}
		secret = strings.TrimSpace(string(b))
	case *secretEnv != "":
		if secret = os.Getenv(*secretEnv); secret == "" {
			return fail(1, "--client-secret-env: %s is not set", *secretEnv)
		}
	}
	a := &oauth.Account{Name: name, Provider: p, ClientID: *clientID, ClientSecret: secret, User: *user}
	if *storeCmd != "" {
		a.Command = &oauth.TokenCommand{Store: *storeCmd, Load: *loadCmd}
	}
	if *user != "" && p.Name == "gmail" {
		a.AuthParams["login_hint"] = *user
	}
	useDevice := *device
	if !*device && !*browser {
		useDevice = p.AuthURL == "" || (p.DeviceURL != "" && p.NoDevice == "" && !desktop())
	}
	if useDevice && p.NoDevice != "" {
		return fail(2, "%s", p.NoDevice)
	}
	l := &oauth.Login{Account: a, Out: c.stdout, Open: c.openURL}
	if useDevice {
		err = l.Device(ctx)
	} else {
		err = l.Browser(ctx)
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	if err := st.Save(ctx, a); err != nil {
		return fail(1, "storing the token: %v", err)
	}
	where := st.Dir + "/" + name + ".json"
	if a.Command != nil {
		where = "the token command (settings in " + where + ")"
	}
	fmt.Fprintf(c.stdout, "Signed in: %s is stored in %s.\nConnect with: account.connect{auth = \"oauth2\", oauth = %q}\n", name, where, name)
	return 0
}

// desktop says a browser can be opened here.
func desktop() bool {
	return runtime.GOOS == "darwin" || runtime.GOOS == "windows" || os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// openURL opens the sign-in page; BROWSER names a command
// to use instead of the desktop's (it gets the URL as its argument).
func (c *cli) openURL(u string) error {
	if b := os.Getenv("BROWSER"); b != "" {
		cmd := execCommand(b, u)
		if err := cmd.Start(); err != nil {
			return err
		}
		go cmd.Wait()
		return nil
	}
	return oauth.OpenBrowser(u)
}

func execCommand(name, arg string) *exec.Cmd { return exec.Command(name, arg) }
