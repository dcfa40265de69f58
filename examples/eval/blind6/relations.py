"""Authoring aid: for each object, which objects stand left/right/behind/in front of it ('?' = near boundary)."""
import json, sys
from world import Scene, THR, NEAR_POS
d = json.load(open('scenes.json'))
for sd in d['single'] + d['multi']:
    if sys.argv[1:] and sd['id'] not in sys.argv[1:]:
        continue
    s = Scene(sd)
    objs = sorted(s.objs, key=lambda o: o.cx)
    name = {o: '%s:%s%s%s%s' % (o.id, o.size[0].upper(), o.color[:3], o.material[0], o.shape[:3]) for o in objs}
    print('== %s' % s.id)
    def rel(o, p, dfun):
        dv = dfun(p, o)
        near = abs(dv) <= NEAR_POS
        if dv > THR:
            return '?' if near else ''
        return '~' if near and dv > -THR else None
    for o in objs:
        parts = []
        for lab, fn in (('L', lambda p, o: o.cx - p.cx), ('R', lambda p, o: p.cx - o.cx),
                        ('Bh', lambda p, o: o.y2 - p.y2), ('Fr', lambda p, o: p.y2 - o.y2)):
            items = []
            for p in objs:
                if p is o: continue
                r = rel(o, p, fn)
                if r is None: continue
                items.append(('~' + p.id) if r == '~' else p.id + r)
            parts.append('%s[%s]' % (lab, ' '.join(items)))
        print('  %-22s %s' % (name[o], '  '.join(parts)))
