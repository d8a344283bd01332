# W4 with poplib: retrieve every message.
import os, poplib

P = poplib.POP3(os.environ["B_HOST"], int(os.environ["B_PORT"]))
P.user(os.environ["B_USER"])
P.pass_(os.environ["B_PASSWORD"])
count, size = P.stat()
total = 0
for i in range(1, count + 1):
    resp, lines, octets = P.retr(i)
    total += octets
print(count, total)
P.quit()
