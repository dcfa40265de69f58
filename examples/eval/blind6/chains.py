"""Authoring aid: candidate two-relation chains (no near-boundary comparisons) in the given scenes.
Prints: start object -rel1-> filter picks a unique B (where the filter alone would not) -rel2-> filter -> result."""
import json, sys, itertools
from world import Scene, AmbiguityError
from describe import mindesc
d = json.load(open('scenes.json'))
RELS = ['left_of', 'right_of', 'front_of', 'behind']
def filters(s):
    out = [{}]
    for a in ('shape', 'color', 'size', 'material'):
        for v in sorted({getattr(o, a) for o in s.objs}):
            out.append({a: v})
    for a, b in itertools.combinations(('shape', 'color', 'size', 'material'), 2):
        for o in s.objs:
            kw = {a: getattr(o, a), b: getattr(o, b)}
            if kw not in out: out.append(kw)
    return out
for sd in d['single']:
    if sys.argv[1:] and sd['id'] not in sys.argv[1:]: continue
    s = Scene(sd)
    F = filters(s)
    for a in s.objs:
        da = mindesc(s, a)
        if da == '-': continue
        for r1 in RELS:
            for f1 in F:
                if not f1: continue
                if len(s.f(**f1)) < 2: continue
                log = []; s.log = log
                cand = getattr(s, r1)(a, s.f(**f1))
                if len(cand) != 1 or log: continue
                b = next(iter(cand))
                for r2 in RELS:
                    if r2 == {'left_of': 'right_of', 'right_of': 'left_of', 'front_of': 'behind', 'behind': 'front_of'}[r1]: continue
                    for f2 in F:
                        log2 = []; s.log = log2
                        res = getattr(s, r2)(b, s.f(**f2))
                        if log2 or not res: continue
                        if len(res) == 1 and len(s.f(**f2)) > 1:
                            c = next(iter(res))
                            print('%s  [%s] %s %s  -> %s (%s)  %s %s -> UNIQUE %s' % (s.id, da, r1, f1, b.id, b, r2, f2, c))
                        elif len(res) > 1 and f2 in ({}, ) or (len(res) > 1 and len(f2) == 1 and 'shape' in f2):
                            print('%s  [%s] %s %s  -> %s (%s)  %s %s -> COUNT %d' % (s.id, da, r1, f1, b.id, b, r2, f2, len(res)))
