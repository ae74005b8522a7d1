//! Widgets with an accessible name that differs from what they show (an
//! icon button named "Pause" for screen readers). GTK 4.8's bindings have
//! no `update_property`; GtkBuilder's `<accessibility>` element sets the
//! same property, so such widgets are made from a one-object snippet.

use relm4::gtk::{self, glib, prelude::*};

/// A new `class` (e.g. `GtkButton`) whose accessible label is `label`.
pub fn labelled<W: IsA<gtk::Widget> + IsA<glib::Object>>(class: &str, label: &str) -> W {
    let xml = format!(
        r#"<interface><object class="{class}" id="widget"><accessibility><property name="label">{}</property></accessibility></object></interface>"#,
        glib::markup_escape_text(label)
    );
    gtk::Builder::from_string(&xml)
        .object::<W>("widget")
        .unwrap_or_else(|| panic!("GtkBuilder did not make a {class}"))
}

/// An icon button whose tooltip and accessible name are `label`.
pub fn icon_button(icon: &str, label: &str) -> gtk::Button {
    let button: gtk::Button = labelled("GtkButton", label);
    button.set_icon_name(icon);
    button.set_tooltip_text(Some(label));
    button
}
