"""The rules of the world, as executable helpers.

Every answer in the blind set is computed with these functions.

Rules implemented (from the brief):
  * left/right/above/below compare box centres, difference must be > 0.02
  * in front of / behind compare the box bottom edge y2 (larger y2 = nearer
    the camera = in front), difference must be > 0.02
  * halves by centre vs 0.5; left/middle/right third by centre x vs 1/3, 2/3
  * extremes by centre; frontmost/closest = largest y2, farthest = smallest y2;
    biggest/smallest by box area
  * "same X" compares the symbolic property; "other" excludes the object

Besides the exact answer, every comparison records how close it was to a
rule boundary; questions whose answer hinges on a near-boundary comparison are
reported as "near" warnings so that they can be rewritten (ambiguity guard).
"""

THR = 0.02
NEAR_POS = 0.045    # |difference of centres/bottoms| this small -> visually unclear
NEAR_REGION = 0.03  # centre this close to 0.5, 1/3, 2/3 -> unclear
NEAR_EXT = 0.03     # extreme winner vs runner-up gap this small -> unclear
NEAR_AREA = 1.15    # biggest/smallest area ratio to runner-up below this -> unclear

ATTRS = ("shape", "color", "size", "material")
ORD = ["first", "second", "third"]


class AmbiguityError(Exception):
    pass


class Obj:
    def __init__(self, d):
        self.id = d["id"]
        self.shape = d["shape"]
        self.color = d["color"]
        self.size = d["size"]
        self.material = d["material"]
        x1, y1, x2, y2 = d["box"]
        self.box = d["box"]
        self.cx = (x1 + x2) / 2.0
        self.cy = (y1 + y2) / 2.0
        self.y2 = y2
        self.area = (x2 - x1) * (y2 - y1)

    def __repr__(self):
        return "<%s %s %s %s %s>" % (self.id, self.size, self.color, self.material, self.shape)


class Img(int):
    """An image index (0-based) that formats as first/second/third."""


class Scene:
    def __init__(self, d, log=None):
        self.id = d["id"]
        self.objs = [Obj(o) for o in d["objects"]]
        self.log = log if log is not None else []

    # ---------------------------------------------------------------- sets
    @property
    def ALL(self):
        return set(self.objs)

    def f(self, objs=None, **kw):
        """Filter by attributes. Values may be a string or a tuple (any of).
        Keys may be prefixed with not_ (e.g. not_color='red')."""
        objs = self.ALL if objs is None else set(objs)
        out = set()
        for o in objs:
            keep = True
            for k, v in kw.items():
                neg = k.startswith("not_")
                a = k[4:] if neg else k
                assert a in ATTRS, k
                vals = (v,) if isinstance(v, str) else tuple(v)
                hit = getattr(o, a) in vals
                if hit == neg:
                    keep = False
            if keep:
                out.add(o)
        return out

    def the(self, objs=None, **kw):
        s = self.f(objs, **kw)
        if len(s) != 1:
            raise AmbiguityError("'the' matched %d objects: %r %r" % (len(s), kw, sorted(s, key=lambda o: o.id)))
        return next(iter(s))

    def pair(self, objs=None, **kw):
        """"the two X": exactly two objects must match; returns them as a list."""
        s = self.f(objs, **kw)
        if len(s) != 2:
            raise AmbiguityError("'the two' matched %d objects: %r" % (len(s), kw))
        return sorted(s, key=lambda o: o.id)

    @staticmethod
    def count(s):
        return len(s)

    @staticmethod
    def exists(s):
        return len(s) > 0

    # ----------------------------------------------------------- relations
    def _cmp(self, d, what):
        if abs(d) <= NEAR_POS:
            self.log.append("near %s diff=%.3f" % (what, d))
        return d > THR

    def is_left(self, a, b):   # a is left of b
        return self._cmp(b.cx - a.cx, "lr %s/%s" % (a.id, b.id))

    def is_right(self, a, b):
        return self._cmp(a.cx - b.cx, "lr %s/%s" % (a.id, b.id))

    def is_above(self, a, b):
        return self._cmp(b.cy - a.cy, "ud %s/%s" % (a.id, b.id))

    def is_below(self, a, b):
        return self._cmp(a.cy - b.cy, "ud %s/%s" % (a.id, b.id))

    def is_front(self, a, b):  # a is in front of b (nearer camera)
        return self._cmp(a.y2 - b.y2, "fb %s/%s" % (a.id, b.id))

    def is_behind(self, a, b):
        return self._cmp(b.y2 - a.y2, "fb %s/%s" % (a.id, b.id))

    # sets of objects standing in a relation to o ("things left of o")
    def left_of(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_left(p, o)}

    def right_of(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_right(p, o)}

    def above(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_above(p, o)}

    def below(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_below(p, o)}

    def front_of(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_front(p, o)}

    def behind(self, o, objs=None):
        return {p for p in (self.ALL if objs is None else objs) if p is not o and self.is_behind(p, o)}

    # -------------------------------------------------------------- regions
    def _reg(self, v, bound, what):
        if abs(v - bound) < NEAR_REGION:
            self.log.append("near region %s v=%.3f bound=%.3f" % (what, v, bound))

    def left_half(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cx, 0.5, o.id)
        return {o for o in objs if o.cx < 0.5}

    def right_half(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cx, 0.5, o.id)
        return {o for o in objs if o.cx > 0.5}

    def top_half(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cy, 0.5, o.id)
        return {o for o in objs if o.cy < 0.5}

    def bottom_half(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cy, 0.5, o.id)
        return {o for o in objs if o.cy > 0.5}

    def left_third(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cx, 1 / 3, o.id)
        return {o for o in objs if o.cx < 1 / 3}

    def right_third(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs: self._reg(o.cx, 2 / 3, o.id)
        return {o for o in objs if o.cx > 2 / 3}

    def middle_third(self, objs=None):
        objs = self.ALL if objs is None else objs
        for o in objs:
            self._reg(o.cx, 1 / 3, o.id)
            self._reg(o.cx, 2 / 3, o.id)
        return {o for o in objs if 1 / 3 <= o.cx <= 2 / 3}

    def inside(self, o, region):
        """Is object o in the named region (left_half, right_third, ...)?"""
        return o in getattr(self, region)({o})

    # ------------------------------------------------------------- extremes
    def _ext(self, objs, key, n=1, area=False, what=""):
        objs = sorted(self.ALL if objs is None else objs, key=key)
        if len(objs) < n:
            raise AmbiguityError("only %d objects for rank %d" % (len(objs), n))
        i = n - 1
        for j in (i - 1, i + 1):
            if 0 <= j < len(objs):
                a, b = key(objs[i]), key(objs[j])
                if area:
                    a, b = abs(a), abs(b)
                    ratio = max(a, b) / min(a, b)
                    if ratio < NEAR_AREA:
                        self.log.append("near extreme %s ratio=%.3f" % (what, ratio))
                elif abs(a - b) < NEAR_EXT:
                    self.log.append("near extreme %s gap=%.3f" % (what, abs(a - b)))
        return objs[i]

    def leftmost(self, objs=None, n=1):
        return self._ext(objs, lambda o: o.cx, n, what="leftmost")

    def rightmost(self, objs=None, n=1):
        return self._ext(objs, lambda o: -o.cx, n, what="rightmost")

    def topmost(self, objs=None, n=1):
        return self._ext(objs, lambda o: o.cy, n, what="topmost")

    def bottommost(self, objs=None, n=1):
        return self._ext(objs, lambda o: -o.cy, n, what="bottommost")

    def frontmost(self, objs=None, n=1):
        return self._ext(objs, lambda o: -o.y2, n, what="frontmost")

    def farthest(self, objs=None, n=1):
        return self._ext(objs, lambda o: o.y2, n, what="farthest")

    def biggest(self, objs=None, n=1):
        return self._ext(objs, lambda o: -o.area, n, area=True, what="biggest")

    def smallest(self, objs=None, n=1):
        return self._ext(objs, lambda o: o.area, n, area=True, what="smallest")

    # ------------------------------------------------------- same attribute
    def same(self, o, attr, objs=None):
        objs = self.ALL if objs is None else objs
        return {p for p in objs if p is not o and getattr(p, attr) == getattr(o, attr)}

    def namespace(self):
        ns = {name: getattr(self, name) for name in dir(self) if not name.startswith("_")}
        ns["ALL"] = self.ALL
        ns["s"] = self
        return ns


def fmt(v):
    if isinstance(v, Img):
        return ORD[int(v)]
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    raise TypeError("unformattable answer %r" % (v,))


# ---------------------------------------------------------- multi-image
class Multi:
    def __init__(self, scenes, log):
        self.S = scenes
        self.log = log

    def which(self, pred):
        """The unique image satisfying pred (error if none or several)."""
        hits = [i for i, s in enumerate(self.S) if pred(s)]
        if len(hits) != 1:
            raise AmbiguityError("which(): %d images satisfy" % len(hits))
        return Img(hits[0])

    @staticmethod
    def premise(cond, value):
        """A question that states a fact ("The first image has a red cube; does the other one?"):
        the stated fact must hold, else the question is invalid."""
        if not cond:
            raise AmbiguityError("premise stated in the question is false")
        return value

    def most(self, fn):
        vals = [fn(s) for s in self.S]
        m = max(vals)
        if vals.count(m) != 1:
            raise AmbiguityError("most(): tie %r" % vals)
        return Img(vals.index(m))

    def fewest(self, fn):
        vals = [fn(s) for s in self.S]
        m = min(vals)
        if vals.count(m) != 1:
            raise AmbiguityError("fewest(): tie %r" % vals)
        return Img(vals.index(m))

    def namespace(self):
        ns = {"which": self.which, "most": self.most, "fewest": self.fewest, "premise": self.premise,
              "S": self.S, "all": all, "any": any, "sum": sum,
              # n(s, ...): how many objects in scene s have the attributes
              "n": lambda s, **kw: s.count(s.f(**kw)),
              # has(s, ...): does scene s have such an object
              "has": lambda s, **kw: s.exists(s.f(**kw))}
        for i, s in enumerate(self.S):
            ns["S%d" % (i + 1)] = s
        return ns
