/* placeholder: the model spec parser lands next */
#include "model.h"
#include "error.h"
niti_status niti_model_parse(const char *text, niti_model_spec **out) { (void)text; (void)out; return niti_fail(NITI_ERR_UNSUPPORTED, "model parser not built"); }
