//! Builder methods written once.

/// Builder methods that each set the field of their own name: every `name(arg: Type);` in
/// the list becomes `pub fn name(mut self, arg: Type) -> Self`, which stores `arg` in
/// `self.name` and returns `self`. The docs (any attributes) written above an entry go on
/// its method.
macro_rules! setters {
    ($($(#[$attr:meta])* $name:ident($arg:ident: $ty:ty);)+) => {
        $(
            $(#[$attr])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$name = $arg;
                self
            }
        )+
    };
}
pub(crate) use setters;
