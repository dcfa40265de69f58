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

# --- added for blind3 -------------------------------------------------------------------------
# in front of / behind go by the bottom edge, not the centre: a tall box whose centre is higher
# but whose bottom edge is lower is in front.
t = Scene({'id': 'z', 'objects': [
    obj('p', 0.30, 0.50, h=0.40, shape='cylinder', color='green', material='metal'),  # y2 = 0.70
    obj('q', 0.70, 0.60, h=0.10, shape='sphere', color='green'),                      # y2 = 0.65
    obj('r', 0.50, 0.20, shape='cube', color='blue', size='large'),
]})
p, q, r = sorted(t.objs, key=lambda o: o.id)
assert t.is_above(p, q) and t.is_front(p, q)          # centre higher, but bottom lower -> in front
assert t.front_of(q) == {p} and t.behind(q) == {r}
assert t.f(not_color='green') == {r} and t.f(shape='sphere', not_material='metal') == {q}
assert t.same(p, 'color') == {q} and p not in t.same(p, 'color')      # "other" excludes the object
assert t.pair(color='green') == [p, q]
try:
    t.pair(shape='cube'); raise SystemExit('pair() should fail on 1 match')
except AmbiguityError:
    pass
assert t.left_third() == {p} and t.middle_third() == {r} and t.right_third() == {q}
log = []
u = Scene({'id': 'w', 'objects': [obj('a', 0.30, 0.5), obj('b', 0.33, 0.5, color='blue')]}, log)
a2, b2 = sorted(u.objs, key=lambda o: o.id)
assert u.is_left(a2, b2) and log                       # 0.03 apart: left, but flagged as near
m2 = Multi([s, t], [])
assert m2.premise(True, 3) == 3
try:
    m2.premise(False, 3); raise SystemExit('premise() should fail when the stated fact is false')
except AmbiguityError:
    pass
try:
    m2.most(lambda x: 3); raise SystemExit('most() should fail on a tie')
except AmbiguityError:
    pass
print('blind3 additions passed')
