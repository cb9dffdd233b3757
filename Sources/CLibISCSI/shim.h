#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
