# W1 triage with Python's imaplib, as its users write it: chunked UID FETCH, UID MOVE.
import email, imaplib, os

M = imaplib.IMAP4(os.environ["B_HOST"], int(os.environ["B_PORT"]))
M.login(os.environ["B_USER"], os.environ["B_PASSWORD"])
M.select("INBOX")
typ, data = M.uid("SEARCH", None, "UNSEEN")
uids = data[0].split()
dest = {"Lists": [], "Newsletters": [], "Receipts": []}
vip = []
for i in range(0, len(uids), 500):
    typ, data = M.uid("FETCH", b",".join(uids[i:i + 500]), "(UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT LIST-ID DATE)])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = item[0].split(b"UID ")[1].split()[0]
        msg = email.message_from_bytes(item[1])
        frm, subject, lst = str(msg.get("From", "")), str(msg.get("Subject", "")), str(msg.get("List-Id", ""))
        if "corp.example" in frm:
            vip.append(uid)
        if "golang" in lst or "dovecot" in lst:
            dest["Lists"].append(uid)
        elif "shop.example" in frm:
            dest["Newsletters"].append(uid)
        elif "invoice" in subject or "order" in subject:
            dest["Receipts"].append(uid)
if vip:
    M.uid("STORE", b",".join(vip), "+FLAGS.SILENT", "(\\Flagged)")
for folder, lst in dest.items():
    for i in range(0, len(lst), 500):
        M.uid("MOVE", b",".join(lst[i:i + 500]), folder)
M.logout()
