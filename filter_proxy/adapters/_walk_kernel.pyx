# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled copy of ``walk.raw_strings`` (the first walk of every screened page's results): the same
stack, the same order, the same tests, without the interpreter's per-item dispatch. Optional like the page
kernel (``setup.py``); ``walk.raw_strings_py`` is the definition and tests/test_walk_kernel.py compares the
two on generated documents."""

cdef object _FORMAT_KEYS = frozenset()


def set_format_keys(object keys):
    """The keys never read as text (``walk.FORMAT_KEYS``), set once by ``walk`` at import."""
    global _FORMAT_KEYS
    _FORMAT_KEYS = keys


def raw_strings(object value, list out):
    """``walk.raw_strings_py``: every string of ``value`` as it is (keys included but ``FORMAT_KEYS``),
    appended to ``out`` in the walk's order."""
    cdef list stack = [value]
    cdef object item, key, child, format_keys = _FORMAT_KEYS
    cdef type kind
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in (<dict>item).items():
                if type(key) is str:
                    if len(<str>key) and key not in format_keys:
                        out.append(key)
                elif key and key not in format_keys:
                    out.append(key)
                kind = type(child)
                if kind is str:
                    if len(<str>child):
                        out.append(child)
                elif kind is dict or kind is list:
                    stack.append(child)
        elif kind is list or kind is tuple:
            for child in item:
                kind = type(child)
                if kind is str:
                    if len(<str>child):
                        out.append(child)
                elif kind is dict or kind is list or kind is tuple:
                    stack.append(child)
        elif kind is str and len(<str>item):
            out.append(item)
