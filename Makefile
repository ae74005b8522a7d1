# Installs Porthole's binaries, desktop data and translations.
# Building is cargo's job: `make release` is only a shortcut for it, and
# `make install` builds first so it never installs stale binaries.
#
#   make install                     # into /usr/local
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make uninstall

APP_ID := io.github.porthole.Porthole
GETTEXT_DOMAIN := porthole

PREFIX ?= /usr/local
DESTDIR ?=
bindir ?= $(PREFIX)/bin
datadir ?= $(PREFIX)/share
localedir ?= $(datadir)/locale

CARGO ?= cargo
CARGO_TARGET_DIR ?= target
INSTALL ?= install
MSGFMT ?= msgfmt
GLIB_COMPILE_SCHEMAS ?= glib-compile-schemas

BINARIES := porthole porthole-vnc
# LINGUAS may hold several languages per line and # comments.
LINGUAS := $(if $(wildcard po/LINGUAS),$(shell sed -e 's/\#.*//' po/LINGUAS))

schemadir := $(datadir)/glib-2.0/schemas
icondir := $(datadir)/icons/hicolor
installed_files := \
	$(addprefix $(bindir)/,$(BINARIES)) \
	$(datadir)/applications/$(APP_ID).desktop \
	$(datadir)/metainfo/$(APP_ID).metainfo.xml \
	$(icondir)/scalable/apps/$(APP_ID).svg \
	$(icondir)/symbolic/apps/$(APP_ID)-symbolic.svg \
	$(schemadir)/$(APP_ID).gschema.xml \
	$(foreach lang,$(LINGUAS),$(localedir)/$(lang)/LC_MESSAGES/$(GETTEXT_DOMAIN).mo)

.PHONY: all release install uninstall

all: release

release:
	$(CARGO) build --release --workspace

# Schemas are compiled only for a live install: a staged one (DESTDIR) is
# finished by its package manager's triggers.
install: release
	$(INSTALL) -Dm755 -t '$(DESTDIR)$(bindir)' $(addprefix $(CARGO_TARGET_DIR)/release/,$(BINARIES))
	$(INSTALL) -Dm644 -t '$(DESTDIR)$(datadir)/applications' data/$(APP_ID).desktop
	$(INSTALL) -Dm644 -t '$(DESTDIR)$(datadir)/metainfo' data/$(APP_ID).metainfo.xml
	$(INSTALL) -Dm644 -t '$(DESTDIR)$(icondir)/scalable/apps' data/icons/hicolor/scalable/apps/$(APP_ID).svg
	$(INSTALL) -Dm644 -t '$(DESTDIR)$(icondir)/symbolic/apps' data/icons/hicolor/symbolic/apps/$(APP_ID)-symbolic.svg
	$(INSTALL) -Dm644 -t '$(DESTDIR)$(schemadir)' data/$(APP_ID).gschema.xml
	$(foreach lang,$(LINGUAS),\
		$(INSTALL) -d '$(DESTDIR)$(localedir)/$(lang)/LC_MESSAGES' && \
		$(MSGFMT) --check -o '$(DESTDIR)$(localedir)/$(lang)/LC_MESSAGES/$(GETTEXT_DOMAIN).mo' po/$(lang).po &&) true
	$(if $(DESTDIR),,$(GLIB_COMPILE_SCHEMAS) '$(schemadir)')

uninstall:
	rm -f $(foreach f,$(installed_files),'$(DESTDIR)$(f)')
	$(if $(DESTDIR),,$(GLIB_COMPILE_SCHEMAS) '$(schemadir)')
