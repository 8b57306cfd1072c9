"""The optional compiled page kernel (``filter_proxy/matchers/_page_kernel.pyx``, issue 14 item 2); the rest
of the build is in pyproject.toml. Optional by design: without Cython or a C compiler, or when compiling
fails, the install goes on and ``term_page`` uses its pure-Python path, which gives the same verdicts
(tests/test_page_kernel.py compares the two)."""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 -- any build failure leaves the pure-Python path
            print(f"warning: the compiled page kernel was not built ({exc}); using the pure-Python path",
                  file=sys.stderr)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"warning: {ext.name} was not built ({exc}); using the pure-Python path", file=sys.stderr)


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize

        return cythonize([Extension("filter_proxy.matchers._page_kernel", ["filter_proxy/matchers/_page_kernel.pyx"],
                                    extra_compile_args=["-O2"]),
                          # the URL check's kernel (signals/urls.py; same optional build, same fallback rule)
                          Extension("filter_proxy.signals._url_kernel", ["filter_proxy/signals/_url_kernel.pyx"],
                                    extra_compile_args=["-O2"]),
                          # the page walk's first step (adapters/walk.py raw_strings; same rule)
                          Extension("filter_proxy.adapters._walk_kernel", ["filter_proxy/adapters/_walk_kernel.pyx"],
                                    extra_compile_args=["-O2"])], quiet=True)
    except Exception as exc:  # noqa: BLE001 -- no Cython, or it refused the source: pure Python
        print(f"warning: the compiled page kernel is skipped ({exc})", file=sys.stderr)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
