//! The Preferences window. Every row is bound straight to a GSettings key,
//! so the window holds no state of its own.

use gettextrs::gettext;
use relm4::adw;
use relm4::adw::prelude::*;
use relm4::gtk;

/// The style choices, in the order the row lists them, as GSettings nicks.
const STYLES: [&str; 3] = ["system", "light", "dark"];

pub fn show(parent: Option<&gtk::Window>, settings: &gtk::gio::Settings) {
    let window = adw::PreferencesWindow::builder()
        .modal(true)
        .search_enabled(false)
        .build();
    window.set_transient_for(parent);

    let page = adw::PreferencesPage::builder()
        .title(gettext("General"))
        .icon_name("preferences-system-symbolic")
        .build();
    let appearance = adw::PreferencesGroup::builder()
        .title(gettext("Appearance"))
        .build();

    let labels = [gettext("Follow System"), gettext("Light"), gettext("Dark")];
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let style = adw::ComboRow::builder()
        .title(gettext("Style"))
        .subtitle(gettext("Light or dark appearance"))
        .model(&gtk::StringList::new(&label_refs))
        .build();
    let current = settings.string("style-variant");
    let index = STYLES
        .iter()
        .position(|s| *s == current.as_str())
        .unwrap_or(0);
    style.set_selected(u32::try_from(index).unwrap_or(0));
    let settings = settings.clone();
    style.connect_selected_notify(move |row| {
        if let Some(nick) = usize::try_from(row.selected())
            .ok()
            .and_then(|i| STYLES.get(i))
        {
            let _ = settings.set_string("style-variant", nick);
        }
    });

    appearance.add(&style);
    page.add(&appearance);
    window.add(&page);
    window.present();
}
