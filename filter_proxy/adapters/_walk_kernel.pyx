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


cdef list _as_texts(object value):
    # fields.as_texts: a string (not only white space), or the strings of a (nested) list, objects skipped
    cdef list out
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, dict):
                out.extend(_as_texts(item))
        return out
    return []


cdef list _plain_values(dict source, tuple keys):
    # fields._plain_values over ``source.get``
    cdef list out
    cdef object value, text
    if len(keys) == 1:
        value = source.get(keys[0])
        if type(value) is str:
            return [value] if len(<str>value) and not (<str>value).isspace() else []
    out = []
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if type(value) is str:
            if len(<str>value) and not (<str>value).isspace() and value not in out:
                out.append(value)
        else:
            for text in _as_texts(value):
                if text not in out:
                    out.append(text)
    return out


def plain_fields(dict source, tuple plain):
    """``[fields._plain_values(source.get, keys) for keys in plain]`` in one call (``ViewBuilder.build``'s
    usual case: one object source, every mapped path a top-level key)."""
    return [_plain_values(source, keys) for keys in plain]


def plain_view(object index, dict source, tuple plain, object view):
    """``fields._plain_view_py``: the ``ResultView`` (``view``) of one object read over plain paths, without
    precomputed hashes, highlights or other nodes (``ViewBuilder.build``'s usual case)."""
    cdef list titles = _plain_values(source, plain[0])
    cdef list snippets = _plain_values(source, plain[1])
    cdef list extra = _plain_values(source, plain[2])
    cdef list urls = _plain_values(source, plain[3])
    cdef list images = _plain_values(source, plain[4])
    if len(titles) > 1 or len(snippets) > 1:
        extra = titles[1:] + snippets[1:] + extra
    return view(index, titles[0] if titles else "", snippets[0] if snippets else "", urls[0] if urls else None,
                images[0] if images else None, {}, extra,
                urls[1:] + images[1:] if len(urls) > 1 or len(images) > 1 else [], images[1:], (source,))
