#include "CCAMLinuxSG.h"
int ccamlinuxsg_placeholder(void) { return 0; }
