-- require must find preloaded modules only, whatever package.path says.
-- expect: error~module|not
package.path = "/etc/?"
require("passwd")
