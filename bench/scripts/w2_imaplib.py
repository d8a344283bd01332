# W2 with imaplib: one UID FETCH of UID, FLAGS, ENVELOPE and RFC822.SIZE, as its users write it.
import imaplib, os

M = imaplib.IMAP4(os.environ["B_HOST"], int(os.environ["B_PORT"]))
M.login(os.environ["B_USER"], os.environ["B_PASSWORD"])
M.select("INBOX", readonly=True)
typ, data = M.uid("FETCH", "1:*", "(UID FLAGS ENVELOPE RFC822.SIZE)")
print(len([d for d in data if d is not None]))
M.logout()
