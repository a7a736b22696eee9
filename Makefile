# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app run.py
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test lint install install-dev translations babel-pot babel-extract browser db migration

run: install translations db
	$(BIN)/python run.py

db: install translations
	$(FLASK) db upgrade
	$(FLASK) crm init

# Lint first: a finding stops the run before the slower tests start.
test: lint translations browser
	$(BIN)/pytest $(PYTEST_ARGS)

# ruff: the lint rules and the formatter, both configured in pyproject.toml.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's python3 comes without venv (python3-venv): installed here when root.
$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing python3-venv"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
	      && $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "Python's venv module is missing: sudo apt-get install python3-venv"; exit 1; \
	  fi; }
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Compiled catalogs are build output, made from the reviewed .po files.
translations: $(COMPILED)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations -l $* -i $< -o $@

# Every msgid the app and Flask-AppBuilder use, into $(POT); tests/test_catalog.py
# runs this target too, so the check and the catalogs see the same strings.
POT ?= translations/messages.pot
babel-pot: install
	$(BIN)/pybabel --quiet extract -F babel.cfg -k _l -k lazy_gettext -k lazy_formatter_gettext \
	  --no-location --sort-output -o $(POT) \
	  app config.py $$($(BIN)/python -c 'import flask_appbuilder, os; print(os.path.dirname(flask_appbuilder.__file__))')

# Refresh the catalogs from the source (then translate the new entries).
babel-extract: babel-pot
	$(BIN)/pybabel update -N --ignore-obsolete -i $(POT) -d translations

# Browser tests drive Debian's chromium; a CJK font makes screenshots legible.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi -e wqy -e 'noto.*cjk'; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	  else \
	    echo "chromium and a CJK font are missing: sudo apt-get install chromium fonts-wqy-zenhei"; exit 1; \
	  fi; \
	fi
# LibreOffice prints the workbooks to PDF for tests/test_report_print.py; pdfinfo counts the pages.
	@if ! command -v libreoffice >/dev/null 2>&1 || ! command -v pdfinfo >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui poppler-utils >/dev/null; \
	  else \
	    echo "LibreOffice or pdfinfo is missing: sudo apt-get install libreoffice-calc-nogui poppler-utils"; exit 1; \
	  fi; \
	fi

# A new migration from the models' changes: make migration MESSAGE="what changed"
migration: install
	@test -n "$(MESSAGE)" || { echo 'usage: make migration MESSAGE="what changed"'; exit 1; }
	scratch=$$(mktemp -d) && \
	  CRM_INSTANCE_DIR=$$scratch DATABASE_URL= SQLALCHEMY_DATABASE_URI= $(FLASK) db upgrade && \
	  CRM_INSTANCE_DIR=$$scratch DATABASE_URL= SQLALCHEMY_DATABASE_URI= $(FLASK) db migrate -m "$(MESSAGE)"
