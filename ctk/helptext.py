"""Help text of `nvidia-ctk runtime configure`, byte-identical to the reference
(printed for --help and after a usage error, as the reference does)."""

CONFIGURE_HELP = 'NAME:\n   NVIDIA Container Toolkit CLI runtime configure - Add a runtime to the specified container engine\n\nUSAGE:\n   NVIDIA Container Toolkit CLI runtime configure\n\nOPTIONS:\n   --dry-run                                            update the runtime configuration as required but don\'t write changes to disk\n   --runtime string                                     the target runtime engine; one of [containerd, crio, docker] (default: "docker")\n   --config string                                      path to the config file for the target runtime\n   --drop-in-config string                              path to the NVIDIA-specific config file to create. When specified, runtime configurations are saved to this file instead of modifying the main config file (default: "RUNTIME_SPECIFIC_DEFAULT")\n   --executable-path string                             The path to the runtime executable. This is used to extract the current config\n   --config-mode string                                 the config mode for runtimes that support multiple configuration mechanisms\n   --config-source string                               the source to retrieve the container runtime configuration; one of [command, file]" (default: "file")\n   --oci-hook-path string                               the path to the OCI runtime hook to create if --config-mode=oci-hook is specified. If no path is specified, the generated hook is output to STDOUT.\n                                                        Note: The use of OCI hooks is deprecated.\n   --nvidia-runtime-name string                         specify the name of the NVIDIA runtime that will be added (default: "nvidia")\n   --nvidia-runtime-path string, --runtime-path string  specify the path to the NVIDIA runtime executable (default: "nvidia-container-runtime")\n   --nvidia-runtime-hook-path string                    specify the path to the NVIDIA Container Runtime hook executable (default: "/usr/bin/nvidia-container-runtime-hook")\n   --nvidia-set-as-default, --set-as-default            set the NVIDIA runtime as the default runtime\n   --cdi.enabled, --cdi.enable, --enable-cdi            Enable CDI in the configured runtime\n   --help, -h                                           show help\n\nGLOBAL OPTIONS:\n   --debug, -d      Enable debug-level logging [$NVIDIA_CTK_DEBUG]\n   --quiet          Suppress all output except for errors; overrides --debug [$NVIDIA_CTK_QUIET]\n   --config string  Path to the config file [$NVIDIA_CTK_CONFIG]\n'

_OUR_CONFIGURE_FLAGS = (
    "   --diff                                               print a unified diff of the changes instead of writing them\n"
    "   --state-dir string                                   where configure records what it changed, for unconfigure (default: $NVIDIA_CTK_STATE_DIR, else /var/lib/nvidia-ctk for root, ~/.local/state/nvidia-ctk for others)\n")

CONFIGURE_FULL_HELP = CONFIGURE_HELP.replace("   --help, -h ", _OUR_CONFIGURE_FLAGS + "   --help, -h ", 1)
"""``configure --help``: the reference's text plus our own flags.  After a usage error the
reference's text is printed unchanged (the golden corpus records it byte for byte)."""

RUNTIME_HELP = """NAME:
   NVIDIA Container Toolkit CLI runtime - A collection of runtime-related utilities for the NVIDIA Container Toolkit

USAGE:
   NVIDIA Container Toolkit CLI runtime [command [command options]]

COMMANDS:
   configure    Add a runtime to the specified container engine
   unconfigure  Remove what configure added (restores the previous default)

OPTIONS:
   --help, -h  show help

GLOBAL OPTIONS:
   --debug, -d      Enable debug-level logging [$NVIDIA_CTK_DEBUG]
   --quiet          Suppress all output except for errors; overrides --debug [$NVIDIA_CTK_QUIET]
   --config string  Path to the config file [$NVIDIA_CTK_CONFIG]
"""
