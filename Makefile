# Two commands do all set-up: `make run` and `make test` (both idempotent, quick when nothing changed).
SHELL := /bin/bash
PY310 = $(shell scripts/python310.sh)
APP_PY := .venv/bin/python
RASA := .venv-rasa/bin/rasa
NLU := $(wildcard nlu_data/*.yml) nlu_data/jieba/userdict.txt
export RASA_TELEMETRY_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test bench model userdict validate eval clean system-deps cluster cluster-check

run: .venv/.installed model
	$(APP_PY) -m bot run

test: .venv/.installed model models/baseline.tar.gz system-deps
	$(APP_PY) -m pytest -q --durations=25 tests

bench: .venv/.installed model models/baseline.tar.gz
	$(APP_PY) -m bot bench

eval: .venv/.installed model
	$(APP_PY) -m bot eval

validate: .venv/.installed .venv-rasa/.installed
	$(APP_PY) -m bot kb validate
	$(RASA) data validate --domain domain.yml --data nlu_data --config config.yml

# The production profile on loopback: PostgreSQL, Redis, nginx, 2 app and 2 Rasa processes (docs/scaling-out.md).
cluster: .venv/.installed model system-deps
	$(APP_PY) -m bot.cluster

# Drives that cluster through killed Rasa and app processes and a Redis restart; exits non-zero on any fault.
cluster-check: .venv/.installed model system-deps
	$(APP_PY) -m bot.cluster_check

userdict: .venv/.installed
	$(APP_PY) -m bot kb userdict

model: models/current.tar.gz

# Servers and the browser the tests and `make cluster` start themselves, from Debian's packages (installed only when
# missing; the project starts its own instances as child processes on free loopback ports: bot/engines.py).
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	@test -x /usr/sbin/nginx || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; }
	@{ command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }

.venv/.installed: requirements/app.txt requirements/app.lock
	test -x .venv/bin/python || $(PY310) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -r requirements/app.txt -c requirements/app.lock
	touch $@

.venv-rasa/.installed: requirements/rasa.txt requirements/rasa.lock
	test -x .venv-rasa/bin/python || $(PY310) -m venv .venv-rasa
	.venv-rasa/bin/pip install -q --upgrade pip
	.venv-rasa/bin/pip install -q -r requirements/rasa.txt -c requirements/rasa.lock
	touch $@

# Retrained only when the pipeline, domain or training data changed (knowledge updates need no retraining).
models/current.tar.gz: .venv-rasa/.installed config.yml domain.yml $(NLU)
	mkdir -p models && flock models/.train.lock $(RASA) train --config config.yml --domain domain.yml --data nlu_data --out models --fixed-model-name current --force

# The benchmark's baseline: the same data with Rasa's default policy settings (bot/bench_baseline_config.yml).
models/baseline.tar.gz: .venv-rasa/.installed bot/bench_baseline_config.yml domain.yml $(NLU)
	mkdir -p models && flock models/.train.lock $(RASA) train --config bot/bench_baseline_config.yml --domain domain.yml --data nlu_data --out models --fixed-model-name baseline --force

clean:
	rm -rf models var .pytest_cache
