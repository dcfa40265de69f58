"""Print scenes in a readable form (authoring aid only; answers come from answers.py)."""
import json, sys, itertools, collections
from world import Scene, ATTRS
def mindesc(s, o):
    for k in range(0, 5):
        for combo in itertools.combinations(['shape','color','size','material'], k):
            kw = {a: getattr(o, a) for a in combo}
            if k and len(s.f(**kw)) == 1:
                return ' '.join(kw[a] for a in ['size','color','material','shape'] if a in kw)
    return '-'
def main():
  d = json.load(open('scenes.json'))
  scenes = d['single'] + d['multi']
  want = set(sys.argv[1:])
  for sd in scenes:
    if want and sd['id'] not in want: continue
    s = Scene(sd)
    print('== %s  (%d objects)' % (s.id, len(s.objs)))
    for o in sorted(s.objs, key=lambda o: o.cx):
        h = 'L' if o.cx < .5 else 'R'; v = 'T' if o.cy < .5 else 'B'
        t = 'l' if o.cx < 1/3 else ('r' if o.cx > 2/3 else 'm')
        print('  %-3s %-5s %-6s %-6s %-8s cx=%.3f cy=%.3f y2=%.3f A=%.4f %s%s%s  uniq: %s' % (
            o.id, o.size, o.color, o.material, o.shape, o.cx, o.cy, o.y2, o.area, h, v, t, mindesc(s, o)))
    for a in ATTRS:
        c = collections.Counter(getattr(o, a) for o in s.objs)
        print('   ', a, dict(c))


if __name__ == '__main__':
    main()
