#!/usr/bin/env python3
"""Which B-trees a SQLite WAL's commits wrote (s19-inline, issue 15).

Usage: wal-pages.py DB WAL
  DB, WAL: copies of a store's suanpan.db and suanpan.db-wal taken while it runs (copy the
  WAL last). Reads the frames of the WAL's current generation up to the last commit, maps
  each frame's page to its table or index through `dbstat`, and prints pages per commit by
  B-tree, then each commit's (frames, pages of `txns`).
"""
import collections, sqlite3, struct, sys

db, wal = sys.argv[1], sys.argv[2]
data = open(wal, 'rb').read()
_, _, page_bytes, _, salt1, salt2, _, _ = struct.unpack('>IIIIIIII', data[:32])
names = dict((p, n) for n, p in sqlite3.connect(db).execute('SELECT name, pageno FROM dbstat'))
commits, cur, off = [], [], 32
while off + 24 + page_bytes <= len(data):
    page, commit, s1, s2, _, _ = struct.unpack('>IIIIII', data[off:off + 24])
    if (s1, s2) != (salt1, salt2):
        break
    cur.append(page)
    if commit:
        commits.append(cur)
        cur = []
    off += 24 + page_bytes
n = max(len(commits), 1)
frames = [p for c in commits for p in c]
print('commits', len(commits), 'frames', len(frames), 'per commit %.1f' % (len(frames) / n))
for name, count in collections.Counter(names.get(p, '?') for p in frames).most_common(40):
    print('%6.2f %s' % (count / n, name))
print([(len(c), sum(1 for p in c if names.get(p) == 'txns')) for c in commits])
