#!/bin/sh
# Print the path of a working CPython 3.10 (Rasa 3.6 supports 3.8-3.10): python3.10 on PATH, else pyenv's.
for candidate in "$(command -v python3.10 2>/dev/null)" \
                 "$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10 \
                 "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    echo "$candidate"; exit 0
  fi
done
echo "找不到 CPython 3.10（Rasa 3.6 需要）。请安装 python3.10（如 pyenv install 3.10）后重试。" >&2
exit 1
