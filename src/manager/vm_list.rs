//! The VM list of the selected connection: a `gtk::ListView` over each
//! connection's `gio::ListStore` of [`VmItem`]s, filtered by name and state
//! and sorted by name, with the pages shown instead of it when there is
//! nothing to list (no VMs, an error, libvirt-dbus gone). Changes update
//! single rows; only a full listing replaces the store.

use std::collections::HashMap;

use gettextrs::gettext;
use relm4::gtk::{self, gio, glib, prelude::*};

use super::vm_item::VmItem;
use crate::libvirt::{DomainInfo, DomainState};

/// The VMs of one connection, with rows found by object path.
#[derive(Debug)]
pub struct VmStore {
    pub store: gio::ListStore,
    index: HashMap<String, VmItem>,
}

impl Default for VmStore {
    fn default() -> Self {
        Self {
            store: gio::ListStore::new::<VmItem>(),
            index: HashMap::new(),
        }
    }
}

impl VmStore {
    /// Replaces everything in one model change (a first listing, or after
    /// libvirt-dbus came back); rows of domains still there keep their item
    /// and thumbnail.
    pub fn replace(&mut self, list: Vec<DomainInfo>) {
        let mut old = std::mem::take(&mut self.index);
        let items: Vec<VmItem> = list
            .into_iter()
            .map(|info| {
                let path = info.path.as_str().to_owned();
                let item = match old.remove(&path) {
                    Some(item) => {
                        item.update(info);
                        item
                    }
                    None => VmItem::new(info),
                };
                self.index.insert(path, item.clone());
                item
            })
            .collect();
        self.store.splice(0, self.store.n_items(), items.as_slice());
    }

    /// Adds or updates one domain. A renamed row is re-placed: the sort
    /// model does not watch item properties.
    pub fn upsert(&mut self, info: DomainInfo) {
        let path = info.path.as_str().to_owned();
        match self.index.get(&path) {
            Some(item) => {
                let renamed = item.name() != info.name;
                item.update(info);
                if renamed {
                    // Re-inserting makes the sort model place it again.
                    if let Some(position) = self.store.find(item) {
                        self.store.remove(position);
                        self.store.append(item);
                    }
                }
            }
            None => {
                let item = VmItem::new(info);
                self.store.append(&item);
                self.index.insert(path, item);
            }
        }
    }

    pub fn remove(&mut self, path: &str) {
        if let Some(item) = self.index.remove(path) {
            if let Some(position) = self.store.find(&item) {
                self.store.remove(position);
            }
        }
    }

    pub fn get(&self, path: &str) -> Option<&VmItem> {
        self.index.get(path)
    }

    pub fn find_by_name(&self, name: &str) -> Option<&VmItem> {
        self.index.values().find(|item| item.name() == name)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }
}

/// Which VMs the state filter lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Running,
    Stopped,
}

impl StateFilter {
    const ALL: [Self; 3] = [Self::All, Self::Running, Self::Stopped];

    fn label(self) -> String {
        match self {
            Self::All => gettext("All"),
            Self::Running => gettext("Running"),
            Self::Stopped => gettext("Stopped"),
        }
    }

    fn lets_through(self, state: Option<DomainState>) -> bool {
        match self {
            Self::All => true,
            Self::Running => state.is_some_and(DomainState::is_active),
            Self::Stopped => !state.is_some_and(DomainState::is_active),
        }
    }
}

/// The list widgets: a filter bar above a `gtk::ListView`.
#[derive(Debug)]
pub struct VmList {
    pub root: gtk::Box,
    pub list_view: gtk::ListView,
    pub selection: gtk::SingleSelection,
    filter: gtk::CustomFilter,
    filter_model: gtk::FilterListModel,
    search: gtk::SearchEntry,
    state_filter: gtk::DropDown,
    state: std::rc::Rc<std::cell::Cell<StateFilter>>,
    list_stack: gtk::Stack,
}

use relm4::adw;

impl VmList {
    /// `menu` is the row context menu (the `vm.*` actions).
    pub fn new(menu: &gio::MenuModel) -> Self {
        let search = gtk::SearchEntry::builder()
            .placeholder_text(gettext("Search virtual machines"))
            .hexpand(true)
            .build();
        let labels: Vec<String> = StateFilter::ALL.iter().map(|f| f.label()).collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let state_filter = gtk::DropDown::from_strings(&labels);
        state_filter.set_tooltip_text(Some(&gettext("Show virtual machines in this state")));

        let state = std::rc::Rc::new(std::cell::Cell::new(StateFilter::All));
        let filter = {
            let search = search.clone();
            let state = state.clone();
            gtk::CustomFilter::new(move |object| {
                let Some(item) = object.downcast_ref::<VmItem>() else {
                    return false;
                };
                let text = search.text();
                (text.is_empty()
                    || item
                        .name()
                        .to_lowercase()
                        .contains(&text.as_str().to_lowercase()))
                    && state.get().lets_through(item.state())
            })
        };
        let filter_model = gtk::FilterListModel::new(None::<gio::ListModel>, Some(filter.clone()));
        let sorter = gtk::StringSorter::new(Some(gtk::PropertyExpression::new(
            VmItem::static_type(),
            None::<&gtk::Expression>,
            "name",
        )));
        let sort_model = gtk::SortListModel::new(Some(filter_model.clone()), Some(sorter));
        let selection = gtk::SingleSelection::new(Some(sort_model));
        selection.set_autoselect(false);
        selection.set_can_unselect(true);

        let factory = row_factory(&selection, menu);
        let list_view = gtk::ListView::new(Some(selection.clone()), Some(factory));
        list_view.add_css_class("navigation-sidebar");

        let no_matches = adw::StatusPage::builder()
            .icon_name("system-search-symbolic")
            .title(gettext("No Matching Virtual Machines"))
            .description(gettext("Change the search text or the state filter."))
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&list_view)
            .build();
        let list_stack = gtk::Stack::new();
        list_stack.add_named(&scrolled, Some("rows"));
        list_stack.add_named(&no_matches, Some("no-matches"));

        let bar = gtk::Box::builder()
            .spacing(6)
            .margin_start(6)
            .margin_end(6)
            .margin_top(6)
            .margin_bottom(6)
            .build();
        bar.append(&search);
        bar.append(&state_filter);
        let root = gtk::Box::new(gtk::Orientation::Vertical, 0);
        root.append(&bar);
        root.append(&list_stack);

        let this = Self {
            root,
            list_view,
            selection,
            filter,
            filter_model,
            search,
            state_filter,
            state,
            list_stack,
        };
        this.follow_filters();
        this
    }

    fn follow_filters(&self) {
        let filter = self.filter.clone();
        let update = self.empty_updater();
        let update2 = update.clone();
        self.search.connect_search_changed(move |_| {
            filter.changed(gtk::FilterChange::Different);
            update();
        });
        let filter = self.filter.clone();
        let state = self.state.clone();
        self.state_filter.connect_selected_notify(move |dropdown| {
            let chosen = StateFilter::ALL
                .get(dropdown.selected() as usize)
                .copied()
                .unwrap_or(StateFilter::All);
            state.set(chosen);
            filter.changed(gtk::FilterChange::Different);
            update2();
        });
        let update = self.empty_updater();
        self.filter_model
            .connect_items_changed(move |_, _, _, _| update());
    }

    /// Shows "no matches" instead of an empty list when filters hide every row.
    fn empty_updater(&self) -> std::rc::Rc<dyn Fn()> {
        let model = self.filter_model.clone();
        let stack = self.list_stack.clone();
        std::rc::Rc::new(move || {
            let hidden = model.n_items() == 0 && model.model().is_some_and(|m| m.n_items() > 0);
            stack.set_visible_child_name(if hidden { "no-matches" } else { "rows" });
        })
    }

    /// Lists the VMs of another connection.
    pub fn show_store(&self, store: &gio::ListStore) {
        self.filter_model.set_model(Some(store));
    }

    /// A row's state changed: with a state filter on, it may have to
    /// appear or go.
    pub fn state_changed(&self) {
        if self.state.get() != StateFilter::All {
            self.filter.changed(gtk::FilterChange::Different);
        }
    }

    pub fn selected(&self) -> Option<VmItem> {
        self.selection.selected_item().and_downcast::<VmItem>()
    }

    /// Selects the row of `item` if it is shown.
    pub fn select(&self, item: &VmItem) {
        let model = &self.selection;
        for position in 0..model.n_items() {
            if model.item(position).as_ref() == Some(item.upcast_ref()) {
                model.set_selected(position);
                return;
            }
        }
    }
}

/// How each row looks: thumbnail (or an icon), name and title, state icon
/// and text, description as tooltip. Bound through expressions, so a
/// property change redraws just that label.
fn row_factory(
    selection: &gtk::SingleSelection,
    menu: &gio::MenuModel,
) -> gtk::SignalListItemFactory {
    let factory = gtk::SignalListItemFactory::new();
    let selection = selection.clone();
    let menu = menu.clone();
    factory.connect_setup(move |_, object| {
        let Some(list_item) = object.downcast_ref::<gtk::ListItem>() else {
            return;
        };
        let row = gtk::Box::builder()
            .spacing(12)
            .margin_top(6)
            .margin_bottom(6)
            .margin_start(6)
            .margin_end(6)
            .build();

        let icon = gtk::Image::builder()
            .icon_name("computer-symbolic")
            .pixel_size(32)
            .build();
        let picture = gtk::Picture::builder()
            .can_shrink(true)
            .content_fit(gtk::ContentFit::Contain)
            .build();
        let thumb = gtk::Stack::builder()
            .width_request(64)
            .height_request(48)
            .build();
        thumb.add_named(&icon, Some("icon"));
        thumb.add_named(&picture, Some("picture"));
        row.append(&thumb);

        let text = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .valign(gtk::Align::Center)
            .hexpand(true)
            .build();
        let name = gtk::Label::builder()
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .css_classes(["heading"])
            .build();
        let title = gtk::Label::builder()
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .css_classes(["dim-label", "caption"])
            .build();
        text.append(&name);
        text.append(&title);
        row.append(&text);

        let state_icon = gtk::Image::new();
        let state_text = gtk::Label::builder().css_classes(["dim-label"]).build();
        row.append(&state_icon);
        row.append(&state_text);

        let item = list_item.property_expression("item");
        item.chain_property::<VmItem>("name")
            .bind(&name, "label", gtk::Widget::NONE);
        item.chain_property::<VmItem>("title")
            .bind(&title, "label", gtk::Widget::NONE);
        item.chain_property::<VmItem>("title")
            .chain_closure::<bool>(glib::closure!(|_: Option<glib::Object>, title: &str| {
                !title.is_empty()
            }))
            .bind(&title, "visible", gtk::Widget::NONE);
        item.chain_property::<VmItem>("description")
            .bind(&row, "tooltip-text", gtk::Widget::NONE);
        item.chain_property::<VmItem>("state-icon").bind(
            &state_icon,
            "icon-name",
            gtk::Widget::NONE,
        );
        item.chain_property::<VmItem>("state-text")
            .bind(&state_text, "label", gtk::Widget::NONE);
        item.chain_property::<VmItem>("thumbnail")
            .bind(&picture, "paintable", gtk::Widget::NONE);
        item.chain_property::<VmItem>("thumbnail")
            .chain_closure::<String>(glib::closure!(
                |_: Option<glib::Object>, texture: Option<gtk::gdk::Texture>| {
                    if texture.is_some() { "picture" } else { "icon" }.to_owned()
                }
            ))
            .bind(&thumb, "visible-child-name", gtk::Widget::NONE);

        // Right click: select the row and offer the lifecycle menu. The
        // popover is made per opening, not per row: a list view keeps 200
        // rows alive, and 200 menus cost 18 MB and a good part of the first
        // listing's time.
        let click = gtk::GestureClick::builder().button(3).build();
        let weak_item = list_item.downgrade();
        let selection = selection.clone();
        let menu = menu.clone();
        click.connect_pressed(move |gesture, _, x, y| {
            if let Some(list_item) = weak_item.upgrade() {
                selection.set_selected(list_item.position());
            }
            if let Some(row) = gesture.widget() {
                super::lifecycle::popup(&row, &menu, Some((x as i32, y as i32)));
            }
            gesture.set_state(gtk::EventSequenceState::Claimed);
        });
        row.add_controller(click);
        list_item.set_child(Some(&row));
    });
    factory
}
