# W3 with imaplib: every message into a Maildir, fetched in chunks.
import imaplib, os

out = os.environ["B_OUT"]
M = imaplib.IMAP4(os.environ["B_HOST"], int(os.environ["B_PORT"]))
M.login(os.environ["B_USER"], os.environ["B_PASSWORD"])
M.select("INBOX", readonly=True)
typ, data = M.uid("SEARCH", None, "ALL")
uids = data[0].split()
n = 0
for i in range(0, len(uids), 200):
    typ, data = M.uid("FETCH", b",".join(uids[i:i + 200]), "(UID BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            uid = item[0].split(b"UID ")[1].split()[0].decode()
            with open(os.path.join(out, "cur", uid + ".imaplib:2,"), "wb") as f:
                f.write(item[1])
            n += 1
print(n)
M.logout()
