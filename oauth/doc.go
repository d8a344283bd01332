// Package oauth signs a mail account in with OAuth 2.0 and keeps it
// signed in: the grants (device authorization, RFC 8628; authorization
// code with PKCE, RFC 7636, over a loopback redirect, RFC 8252; refresh
// token, RFC 6749 §6), provider presets (Gmail, Microsoft 365) and a
// generic provider from flags or OpenID Connect Discovery 1.0
// (.well-known/openid-configuration), a token store (a 0600 file per
// account in the user's config directory, or a command such as pass),
// and a [Source] that hands out access tokens for SASL XOAUTH2 and
// OAUTHBEARER (RFC 7628), refreshing them before they expire and again
// when a server says a token is no longer good ([Source.Authenticate]).
//
// The HTTP grants use golang.org/x/oauth2 (its DeviceAuth,
// DeviceAccessToken with slow_down handling, PKCE helpers and token
// endpoint client); expiry, storage and retry are decided here.
//
// Tokens are never printed, logged or put in an error's text.
package oauth
