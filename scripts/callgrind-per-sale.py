#!/usr/bin/env python3
"""Per-sale cost of each function between two callgrind runs of the same load (issue 15).

Usage: callgrind-per-sale.py SHORT.out LONG.out SALES [REGEX] [ROWS]
  SHORT.out, LONG.out: `valgrind --tool=callgrind` of `sale_driver` with fewer and more
  rounds; SALES: the sales between them (64 a round). Setup costs cancel out.
Prints, per function (matching REGEX), the inclusive and self instructions and the calls
per sale, by inclusive cost. Recursive functions' inclusive cost is counted once per level.
"""
import re, sys, collections
def parse(path):
    names = {}
    def nm(kind, s):
        m = re.match(r'\((\d+)\)(?: (.*))?', s)
        if not m: return s
        k = (kind, m.group(1))
        if m.group(2): names[k] = m.group(2)
        return names.get(k, s)
    self_c = collections.Counter(); incl = collections.Counter(); calls = collections.Counter()
    fn = None; cfn = None; pending_call = None
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if line.startswith('fn='):
            fn = nm('fn', line[3:]); continue
        if line.startswith('cfn='):
            cfn = nm('fn', line[4:]); continue
        if line.startswith('calls='):
            pending_call = int(line[6:].split()[0]); continue
        if line.startswith(('fl=','fi=','fe=','ob=','cob=','cfi=','cfl=')):
            k = line.split('=')[0]
            kind = 'fl' if k in ('fl','fi','fe','cfi','cfl') else 'ob'
            nm(kind, line[len(k)+1:]); continue
        if line and (line[0].isdigit() or line[0] in '+-*'):
            parts = line.split()
            if len(parts) < 2: continue
            cost = int(parts[1])
            if pending_call is not None:
                calls[cfn] += pending_call
                if cfn != fn: incl[(fn, cfn)] += cost  # inclusive of callee
                pending_call = None
            else:
                self_c[fn] += cost
    # inclusive per function: self + callee costs (recursion double counts; fine for leaves)
    inc = collections.Counter(self_c)
    for (f, c), v in incl.items(): inc[f] += v
    return self_c, inc, calls
if __name__ == '__main__':
    a, b, n = sys.argv[1], sys.argv[2], float(sys.argv[3])
    pat = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
    sa, ia, ca = parse(a); sb, ib, cb = parse(b)
    keys = set(ib) | set(cb)
    rows = []
    for k in keys:
        if pat and not pat.search(k or ''): continue
        rows.append(((ib[k]-ia[k])/n, (sb[k]-sa[k])/n, (cb[k]-ca[k])/n, k))
    rows.sort(reverse=True)
    print(f"{'incl/unit':>12} {'self/unit':>11} {'calls/unit':>10}  function")
    for r in rows[:int(sys.argv[5]) if len(sys.argv)>5 else 60]:
        print(f"{r[0]:12.0f} {r[1]:11.0f} {r[2]:10.2f}  {r[3][:150]}")
