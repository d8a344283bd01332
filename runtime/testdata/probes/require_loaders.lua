-- Loaders put back in the registry's place must not read files either.
-- expect: error~module|not
package.path = "/etc/?;/etc/?.lua"
package.loaders = package.loaders or {}
require("hostname")
