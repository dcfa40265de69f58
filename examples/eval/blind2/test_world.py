"""Small self-tests of the rule helpers in world.py on hand-made scenes."""
from world import Scene, Multi, AmbiguityError, fmt, Img

def obj(i, cx, cy, w=0.1, h=0.1, **kw):
    d = dict(id=i, shape='cube', color='red', size='small', material='rubber')
    d.update(kw)
    d['box'] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    return d

s = Scene({'id': 'x', 'objects': [
    obj('a', 0.20, 0.50), obj('b', 0.215, 0.60, shape='sphere'),   # 0.015 apart in x: neither left nor right
    obj('c', 0.80, 0.30, color='blue', size='large', w=0.2, h=0.2),
]})
a, b, c = sorted(s.objs, key=lambda o: o.id)
assert not s.is_left(a, b) and not s.is_right(a, b)          # within 0.02
assert s.is_left(a, c) and s.is_right(c, a)
assert s.is_above(a, b) and s.is_below(b, a)                  # 0.10 apart
assert s.is_front(b, a) and s.is_behind(a, b)                 # b's bottom lower -> in front
assert s.is_behind(c, a)                                      # c bottom 0.40 < a bottom 0.55
assert s.left_half() == {a, b} and s.right_third() == {c} and s.left_third() == {a, b}
assert s.top_half() == {c}
assert s.leftmost() is a and s.rightmost() is c and s.biggest() is c
assert s.frontmost() is b and s.farthest() is c
assert s.same(a, 'color') == {b} and s.same(c, 'color') == set()
try:
    s.the(color='red'); raise SystemExit('the() should fail on 2 matches')
except AmbiguityError:
    pass
assert s.the(shape='sphere') is b
assert fmt(True) == 'yes' and fmt(0) == '0' and fmt(Img(2)) == 'third'
m = Multi([s, Scene({'id': 'y', 'objects': [obj('a', 0.5, 0.5)]})], [])
assert fmt(m.which(lambda t: t.count(t.ALL) == 1)) == 'second'
print('world.py self-tests passed')
